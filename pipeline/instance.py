"""The Dagster instance the CLI and `make dev` share: `DAGSTER_HOME`, or `.passback/dagster_home`,
seeded with the project's dagster.yaml (pools, run-tag limits, freshness).

The instance's storage holds what the runs saw: run and event databases with materialization
metadata, schedule state and compute logs. Like the warehouse and the reports it is private to
its owner: folders 0700, files 0600. Dagster creates those files for as long as the process
lives (a run's event database when the run starts, compute logs per step, in this process and
in the run workers it spawns), so a process that opens the instance keeps an owner-only umask
from then on, and files left by an older, laxer setup are tightened each time the home is
opened. `make dev` sets the same umask before `dagster dev`.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import dagster as dg

from pipeline.config import project_root

TEMPLATE = Path(__file__).with_name("dagster.yaml")
PRIVATE_UMASK = 0o077  # new files 0600 (sqlite's 0644 default loses its group/other bits)


def dagster_home() -> Path:
    """The Dagster home folder, created owner-only and seeded with the project's settings if
    new; an existing one is tightened (see `make_private`)."""
    home = Path(os.environ.get("DAGSTER_HOME") or project_root() / ".passback" / "dagster_home")
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings = home / "dagster.yaml"
    if not settings.exists():
        shutil.copyfile(TEMPLATE, settings)
    make_private(home)
    return home


def make_private(folder: Path) -> list[str]:
    """Take group and other permissions off `folder` and everything under it; returns what
    changed ("path 0o644 -> 0o600"), for a caller that wants to say so.

    Symlinks are left alone (chmod would follow them out of the folder).
    """
    changed = []
    for path in [folder, *folder.rglob("*")]:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            continue
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            path.chmod(mode & 0o700)
            changed.append(f"{path} {oct(mode)} -> {oct(mode & 0o700)}")
    return changed


def instance() -> dg.DagsterInstance:
    """A persistent instance, so runs from the CLI show up in the UI; its storage owner-only.

    Sets the process umask to owner-only for good: Dagster keeps creating files in the home
    (and the warehouse and reports want the same) for as long as the process runs.
    """
    os.umask(PRIVATE_UMASK)
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    return dg.DagsterInstance.get()
