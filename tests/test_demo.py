"""`passback demo`, the README's first command, as a new user runs it: a generated district,
the sandbox SIS and `passback run` end to end, then again with nothing left to send."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _demo(home: Path) -> str:
    env = {**os.environ, "PASSBACK_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    env.pop("PASSBACK_WAREHOUSE", None)
    env.pop("PASSBACK_MAPPINGS_DIR", None)
    done = subprocess.run(
        [sys.executable, "-m", "passback.cli", "demo", "--out", str(home / "demo"),
         "--students", "40"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_the_demo_runs_end_to_end_and_a_second_run_sends_nothing(tmp_path: Path) -> None:
    first = _demo(tmp_path)
    sent = [int(n) for n in re.findall(r"SIS: sent (\d+)", first)]
    assert sent and sum(sent) > 0, first[-3000:]
    assert "every planned object" in first

    again = _demo(tmp_path)
    assert [int(n) for n in re.findall(r"SIS: sent (\d+)", again)] == [0] * len(sent), \
        again[-3000:]
