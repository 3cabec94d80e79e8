"""The code stays ruff-clean (STYLE.md): CI runs only the tests, so the lint runs as one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # spawns ruff

REPO = Path(__file__).resolve().parents[1]


def test_ruff_is_clean() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    folders = ["passback", "pipeline", "assets", "checks", "tooling", "tests"]
    done = subprocess.run([str(ruff), "check", *folders],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-4000:]
