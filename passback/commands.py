"""Sub-commands that drive the production pipeline: `check-config` and `run`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from pipeline.config import ConfigError, load_districts, mappings_dir


def _check_config(args: argparse.Namespace) -> int:
    folder = Path(args.mappings) if args.mappings else mappings_dir()
    try:
        districts = load_districts(folder)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    for config in districts.values():
        sis = config.sis
        print(f"{config.district}: {sis.profile}, OneRoster {sis.oneroster_version}, "
              f"{sis.auth.kind}, {sis.rostering_base}")
    print(f"{len(districts)} district(s) in {folder}: OK")
    return 0


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
