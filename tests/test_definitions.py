"""The code location loads the way Dagster's own tools load it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIRTUAL_ENV": str(BIN.parent), "NO_COLOR": "1"}
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_definitions_object_resolves() -> None:
    from passback.definitions import defs

    repository = defs.get_repository_def()
    assert isinstance(repository, dg.RepositoryDefinition)
    assert {"warehouse", "districts"} <= set(defs.resources or {})


@pytest.mark.slow
def test_dagster_definitions_validate() -> None:
    done = _run(str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All code locations passed validation" in done.stdout + done.stderr


@pytest.mark.slow
def test_dg_check_defs() -> None:
    done = _run(str(BIN / "dg"), "check", "defs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All definitions loaded successfully" in done.stdout + done.stderr
