"""`passback bench`: the benchmarks from the one CLI (the same as `python -m tooling.bench`)."""

from __future__ import annotations

import argparse
import sys


def _bench(args: argparse.Namespace) -> int:
    from tooling.bench.__main__ import run

    return run(args, sys.argv[2:])


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `bench` sub-command."""
    from tooling.bench.__main__ import DESCRIPTION, add_arguments

    parser = subparsers.add_parser("bench", help="each stage at district scale beside its "
                                   "baseline (figures in docs/benchmarks.md)",
                                   description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(func=_bench)
