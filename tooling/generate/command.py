"""`passback generate`: write a synthetic district (Otus export, OneRoster, district file)."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from tooling.generate.plants import DENSE_PLANTED_SHARE, REALISTIC_PLANTED_SHARE

# Above this many students the default format is Parquet: the scores CSV passes a gigabyte
# near 50,000 students, and Parquet writes it several times smaller and faster.
CSV_DEFAULT_MAX_STUDENTS = 20_000


def default_format(students: int) -> str:
    """CSV for small districts (readable, diffable); Parquet for large ones."""
    return "csv" if students <= CSV_DEFAULT_MAX_STUDENTS else "parquet"


def _generate(args: argparse.Namespace) -> int:
    from tooling.generate.district import generate_district

    fmt = args.format or default_format(args.students)
    started = time.perf_counter()
    try:
        result = generate_district(
            Path(args.out), students=args.students, seed=args.seed, profile=args.profile,
            district=args.district, oneroster_version=args.oneroster_version, auth=args.auth,
            base_url=args.base_url, as_of=args.as_of, fmt=fmt, planted_share=args.planted_share)
    except ValueError as exc:
        print(f"passback generate: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    print(f"district {result.district}: as of {result.as_of}, effective "
          f"{result.effective_date}, closed grading periods {result.closed_grading_periods or '-'}"
          f", planted share {args.planted_share:g}")
    written = (("otus export", result.otus_dir), ("oneroster 1.1 csv", result.oneroster_dir),
               ("district file", result.mapping_file), ("planted", result.planted))
    for label, path in written:
        print(f"  {label:<18} {path}")
    width = max(len(name) for name in result.counts)
    for name, rows in result.counts.items():
        print(f"  {name:<{width}} {rows:>12,}")
    print(f"wrote {fmt} in {elapsed:.1f}s")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `generate` sub-command."""
    parser = subparsers.add_parser(
        "generate", help="write a synthetic district: Otus export, OneRoster CSV, district file",
        description="Write a deterministic synthetic district with planted rule cases.")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--students", type=int, default=1000, help="students (default 1000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--profile", default="infinite_campus",
                        choices=("infinite_campus", "skyward", "oneroster"))
    parser.add_argument("--district", default="demo", help="district id (default demo)")
    parser.add_argument("--oneroster-version", choices=("1.1", "1.2"), default=None,
                        help="default 1.2 for infinite_campus, else 1.1")
    parser.add_argument("--auth", choices=("oauth1", "oauth2"), default=None,
                        help="default oauth2")
    parser.add_argument("--base-url", default="http://127.0.0.1:8765/ims/oneroster")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                        help="YYYY-MM-DD (default: today in the district's time zone)")
    parser.add_argument("--format", choices=("csv", "parquet"), default=None,
                        help=f"Otus export format (default csv up to "
                             f"{CSV_DEFAULT_MAX_STUDENTS:,} students, parquet above)")
    add_planted_share(parser)
    parser.set_defaults(func=_generate)


def add_planted_share(parser: argparse.ArgumentParser) -> None:
    """--planted-share, shared by `passback generate` and `passback demo`."""
    parser.add_argument(
        "--planted-share", type=float, default=REALISTIC_PLANTED_SHARE, metavar="SHARE",
        help=f"share of open assessments planted to break a rule (default "
             f"{REALISTIC_PLANTED_SHARE:g}, a real district's; {DENSE_PLANTED_SHARE:g}: the "
             "dense district the tests use); every rule keeps at least one case")
