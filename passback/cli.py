"""`passback`: the command line. Each sub-command lives beside the code it drives and
registers itself here; heavy imports (Dagster) happen only when a command runs.

The production commands (`check-config`, `run`) are in `passback.commands`, `plan` and
`history` in `passback.history`. The tooling ones
(`sandbox`, `generate`, `demo`, `bench`) live in the `tooling` package and are found through
the `passback.commands` entry points, so production never imports tooling.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from passback import commands, history, report

ENTRY_POINT_GROUP = "passback.commands"
TOOLING_EXTRA = "tooling"


def _tooling_commands() -> list[EntryPoint]:
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _unavailable(name: str, error: ImportError) -> Any:
    """A stand-in sub-command that says which extra is missing instead of a traceback."""

    def register(subparsers: argparse._SubParsersAction) -> None:
        parser = subparsers.add_parser(name, help=f"(needs the `{TOOLING_EXTRA}` extra)")
        parser.set_defaults(func=lambda _args: _missing(name, error))

    return register


def _missing(name: str, error: ImportError) -> int:
    print(f"`passback {name}` needs the `{TOOLING_EXTRA}` extra ({error.name or error}): "
          f"pip install 'passback[{TOOLING_EXTRA}]'", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    """The `passback` parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="passback",
        description="Move grades from Otus to the SIS over OneRoster, with Dagster and DuckDB.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.register(subparsers)
    history.register(subparsers)
    report.register(subparsers)  # `passback report` (passback/report.py)
    for entry in _tooling_commands():
        try:
            register = entry.load()
        except ImportError as error:
            register = _unavailable(entry.name, error)
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `passback` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
