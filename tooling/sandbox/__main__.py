"""`python -m tooling.sandbox ...`: the `passback sandbox` command without the main CLI."""

from __future__ import annotations

import argparse
import sys

from tooling.sandbox.command import register


def main(argv: list[str] | None = None) -> int:
    """Parse `sandbox` arguments (the sub-command name is implied) and run it."""
    parser = argparse.ArgumentParser(prog="python -m tooling.sandbox")
    subparsers = parser.add_subparsers(dest="command")
    register(subparsers)
    args = parser.parse_args(["sandbox", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
