"""Sub-commands that drive the whole pipeline: `check-config`, `run`, `demo`."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from pipeline.config import PROJECT_ROOT, ConfigError, load_districts, mappings_dir

DEMO_DIR = PROJECT_ROOT / ".passback" / "demo"
DEMO_PORT = 8765


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


def _run(args: argparse.Namespace) -> int:
    from pipeline.run import run_district
    from pipeline.summary import print_summary

    try:
        districts = load_districts()
        if args.district not in districts:
            print(f"district {args.district!r} is not configured in {mappings_dir()}; known: "
                  f"{', '.join(sorted(districts)) or 'none'}", file=sys.stderr)
            return 2
        outcome = run_district(
            args.district, grading_period=args.grading_period,
            as_of=date.fromisoformat(args.as_of) if args.as_of else None,
            dry_run=args.dry_run, full_refresh=args.full_refresh)
    except (ConfigError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print_summary(outcome)
    return 0 if outcome.success else 1


def _demo(args: argparse.Namespace) -> int:
    from pipeline.demo import free_port, point_at_sandbox, sandbox_environment
    from pipeline.generate import generate_district
    from pipeline.sandbox import SandboxSIS

    out = Path(args.out)
    print(f"generating a district of {args.students} students in {out} ...")
    generated = generate_district(out, students=args.students, seed=args.seed,
                                  profile=args.profile, district="demo")
    sandbox = SandboxSIS(generated.oneroster_dir, profile=args.profile,
                         closed_grading_periods=generated.closed_grading_periods,
                         state_path=out / "sandbox-state.jsonl",
                         port=free_port(DEMO_PORT))
    with sandbox:
        print(f"sandbox SIS ({args.profile}) serving on {sandbox.url}")
        point_at_sandbox(generated.mapping_file, sandbox.url, sandbox.token_url)
        os.environ.update(sandbox_environment(generated.district, sandbox.credentials))
        os.environ["PASSBACK_MAPPINGS_DIR"] = str(generated.mapping_file.parent)
        args.district, args.grading_period, args.full_refresh = generated.district, None, False
        args.as_of, args.dry_run = generated.as_of.isoformat(), False
        status = _run(args)
    names = ", ".join(sorted(sandbox_environment(generated.district, sandbox.credentials)))
    print(f"\nThe demo district is in {out}. To browse it in the Dagster UI:\n"
          f"  .venv/bin/passback sandbox --data {generated.oneroster_dir} --profile "
          f"{args.profile} --state {out / 'sandbox-state.jsonl'} --port {DEMO_PORT} &\n"
          f"  PASSBACK_MAPPINGS_DIR={generated.mapping_file.parent} make dev\n"
          f"with the sandbox's demo credentials (docs/sandbox.md) exported as {names}.")
    return status


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
    run.add_argument("--full-refresh", action="store_true",
                     help="reload the SIS from scratch instead of since the last cursor")
    run.set_defaults(func=_run)

    demo = subparsers.add_parser(
        "demo", help="generate a district, start the sandbox SIS, run everything")
    demo.add_argument("--out", default=str(DEMO_DIR))
    demo.add_argument("--students", type=int, default=150)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--profile", default="infinite_campus",
                      choices=["infinite_campus", "skyward", "oneroster"])
    demo.set_defaults(func=_demo)
