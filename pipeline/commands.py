"""Sub-commands that drive the whole pipeline: `check-config`, `run`, `demo`."""

from __future__ import annotations

import argparse
import sys
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


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the pipeline-level sub-commands."""
    check = subparsers.add_parser(
        "check-config", help="validate every district file and list the districts"
    )
    check.add_argument("--mappings", help="folder of district YAML files (default: mappings/)")
    check.set_defaults(func=_check_config)
