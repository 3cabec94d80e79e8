"""Sub-commands that drive the production pipeline: `check-config` and `run`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from pipeline.config import ConfigError, DistrictConfig, load_districts, mappings_dir


def _check_config(args: argparse.Namespace) -> int:
    """Every district file valid, every secret variable set, and (`--connect`) every SIS
    answering with the district's credentials: what a run would trip on, said before it runs.
    Exit 0 when all is well, 2 for configuration problems, 1 when a SIS cannot be reached."""
    folder = Path(args.mappings) if args.mappings else mappings_dir()
    if not folder.is_dir():
        print(f"the mappings folder {folder} does not exist (set PASSBACK_MAPPINGS_DIR or pass "
              "--mappings)", file=sys.stderr)
        return 2
    try:
        districts = load_districts(folder)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not districts:
        print(f"no district files (*.yaml) in {folder}", file=sys.stderr)
        return 2
    unset = {name: config.missing_secrets() for name, config in districts.items()}
    for config in districts.values():
        sis = config.sis
        print(f"{config.district}: {sis.profile}, OneRoster {sis.oneroster_version}, "
              f"{sis.auth.kind}, {sis.rostering_base}")
        if unset[config.district]:
            print(f"  {config.district}: unset environment variable(s) "
                  f"{', '.join(unset[config.district])} (the district's secrets)",
                  file=sys.stderr)
    if any(unset.values()):
        return 2
    if args.connect:
        failed = [config.district for config in districts.values() if not _connects(config)]
        if failed:
            print(f"{len(failed)} of {len(districts)} district(s) could not read their SIS: "
                  f"{', '.join(failed)}", file=sys.stderr)
            return 1
    print(f"{len(districts)} district(s) in {folder}: OK"
          + (", each SIS answered" if args.connect else ""))
    return 0


def reach_sis(config: DistrictConfig, *, deadline: float = 20.0) -> str | None:
    """Get a token and one record's page from each SIS service (two or three requests), with
    two quick retries and a short deadline; None when the SIS answers, else one line saying
    what failed and where (no secret in it): `check-config --connect`'s test of a district."""
    from pipeline.oneroster import OneRosterResource

    quick = OneRosterResource(max_retries=2, backoff_max_seconds=1.0,
                              request_deadline_seconds=deadline)
    for entity, service in (("orgs", "rostering"), ("categories", "gradebook")):
        try:
            with quick.reader(config) as client:
                client.total(entity)
        except Exception as exc:  # noqa: BLE001 - said in one line; the cause is the message
            said = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return (f"the SIS's {service} service at {config.sis.base_url} could not be read "
                    f"({entity}): {said}")
    return None


def _connects(config: DistrictConfig) -> bool:
    """Get a token and read from each SIS service; one line per district either way."""
    problem = reach_sis(config)
    if problem:
        print(f"  {config.district}: {problem}", file=sys.stderr)
        return False
    print(f"  {config.district}: the SIS answered (a token, rostering and gradebook)")
    return True


def run_command(args: argparse.Namespace) -> int:
    from passback.run import run_district
    from passback.summary import print_summary

    try:
        districts = load_districts()
        if args.district not in districts:
            print(f"district {args.district!r} is not configured in {mappings_dir()}; known: "
                  f"{', '.join(sorted(districts)) or 'none'}", file=sys.stderr)
            return 2
        outcome = run_district(
            args.district, grading_period=args.grading_period,
            as_of=date.fromisoformat(args.as_of) if args.as_of else None,
            dry_run=args.dry_run, full_refresh=args.full_refresh,
            allow_mass_change=args.allow_mass_change)
    except (ConfigError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print_summary(outcome)
    return 0 if outcome.success else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the pipeline-level sub-commands."""
    check = subparsers.add_parser(
        "check-config", help="validate every district file and list the districts")
    check.add_argument("--mappings", help="folder of district YAML files (default: mappings/)")
    check.add_argument("--connect", action="store_true",
                       help="also get a token and read from each district's SIS")
    check.set_defaults(func=_check_config)

    run = subparsers.add_parser(
        "run", help="extract, apply the rules and sync to the SIS through Dagster",
        description="Extract the district, then run rules and sink for each open grading "
        "period (or the one named; a closed one reports but never writes).")
    run.add_argument("--district", required=True)
    run.add_argument("--grading-period", help="a grading period sourcedId or partition key")
    run.add_argument("--as-of", help="YYYY-MM-DD (default: today in the district's time zone)")
    run.add_argument("--dry-run", action="store_true", help="plan the sync, send nothing")
    run.add_argument("--allow-mass-change", action="store_true",
                     help="confirm a sync that deletes or stops passing back more than the "
                     "district's mass_change_share, or follows an emptied export file")
    run.add_argument("--full-refresh", action="store_true",
                     help="reload the SIS from scratch instead of since the last cursor")
    run.set_defaults(func=run_command)
