"""The Dagster instance the CLI and `make dev` share: `DAGSTER_HOME`, or `.passback/dagster_home`,
seeded with the project's dagster.yaml (pools, run-tag limits, freshness)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from pipeline.config import project_root

TEMPLATE = Path(__file__).with_name("dagster.yaml")


def dagster_home() -> Path:
    """The Dagster home folder, created and seeded with the project's settings if new."""
    home = Path(os.environ.get("DAGSTER_HOME") or project_root() / ".passback" / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists():
        shutil.copyfile(TEMPLATE, settings)
    return home


def instance() -> dg.DagsterInstance:
    """A persistent instance, so runs from the CLI show up in the UI."""
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    return dg.DagsterInstance.get()
