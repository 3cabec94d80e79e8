"""`passback`: the command line. Each sub-command lives beside the code it drives and
registers itself here; heavy imports (Dagster) happen only when a command runs."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that define `register(subparsers)`; a missing one is a bug, not a silent skip.
COMMAND_MODULES = (
    "pipeline.generate.command",
    "pipeline.sandbox.command",
    "pipeline.commands",
)


def build_parser() -> argparse.ArgumentParser:
    """The `passback` parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="passback",
        description="Move grades from Otus to the SIS over OneRoster, with Dagster and DuckDB.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `passback` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
