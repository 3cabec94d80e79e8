"""Dagster's storage is owner-only, like the warehouse and the reports.

A real run (`passback run`'s code path, in a child process) against the sandbox, in a temporary
DAGSTER_HOME that an older setup left readable to all; afterwards every folder under the home
is 0700 and every file 0600: run and event databases, compute logs and whatever else
Dagster (or a step, in storage/) wrote.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pipeline.instance import make_private
from tests.reliability.helpers import Workspace
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run


def _readable_by_others(root: Path) -> list[str]:
    return [f"{path.relative_to(root)} {oct(stat.S_IMODE(path.lstat().st_mode))}"
            for path in [root, *root.rglob("*")]
            if not path.is_symlink() and stat.S_IMODE(path.lstat().st_mode) & 0o077]


def test_a_real_run_leaves_the_dagster_home_owner_only(workspace: Workspace) -> None:
    home = workspace.dagster_home
    # What a home made before this fix looks like: a laxer folder and a file readable by all.
    (home / "history").mkdir(parents=True, mode=0o755)
    home.chmod(0o755)
    (home / "history").chmod(0o755)
    leftover = home / "history" / "left-by-an-older-run.txt"
    leftover.write_text("run data")
    leftover.chmod(0o644)
    with SandboxSIS(workspace.generated.oneroster_dir, profile="oneroster",
                    credentials=workspace.credentials,
                    closed_grading_periods=workspace.generated.closed_grading_periods) as sis:
        workspace.point_at(sis.url)
        finished = workspace.run()
    assert finished.returncode == 0, finished.tail()
    files = [p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()]
    # The run's own storage is there to be checked: the run database and each run's events.
    assert "history/runs.db" in files, files
    assert sum(f.startswith("history/runs/") and f.endswith(".db") for f in files) >= 2, files
    assert any("/compute_logs/" in f and f.endswith(".out") for f in files), files
    assert _readable_by_others(home) == []
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(leftover.stat().st_mode) == 0o600


def test_make_private_takes_group_and_other_bits_off_everything(tmp_path: Path) -> None:
    root = tmp_path / "home"
    (root / "storage" / "logs").mkdir(parents=True)
    (root / "storage").chmod(0o755)
    (root / "storage" / "logs" / "step.out").write_text("x")
    (root / "storage" / "logs" / "step.out").chmod(0o664)
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o755)
    outside.chmod(0o755)
    (root / "elsewhere").symlink_to(outside)
    changed = make_private(root)
    assert _readable_by_others(root) == []
    assert stat.S_IMODE((root / "storage" / "logs" / "step.out").stat().st_mode) == 0o600
    assert any("step.out 0o664 -> 0o600" in line for line in changed)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o755  # a symlink's target is not touched
