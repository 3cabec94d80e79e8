"""`passback demo`, the README's first command, as a new user runs it: a generated district,
the sandbox SIS and `passback run` end to end, then again with nothing left to send."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from tooling.demo import port_in_use

REPO = Path(__file__).resolve().parents[1]


def _demo(home: Path) -> str:
    env = {**os.environ, "PASSBACK_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    env.pop("PASSBACK_WAREHOUSE", None)
    env.pop("PASSBACK_MAPPINGS_DIR", None)
    done = subprocess.run(
        [sys.executable, "-m", "passback.cli", "demo", "--out", str(home / "demo"),
         "--students", "40", "--port", "0"], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_the_demo_runs_end_to_end_and_a_second_run_sends_nothing(tmp_path: Path) -> None:
    first = _demo(tmp_path)
    sent = [int(n) for n in re.findall(r"SIS: sent (\d+)", first)]
    assert sent and sum(sent) > 0, first[-3000:]
    assert "every planned object" in first
    # One as-of date: today where the district is (the demo file's zone), as `passback run`
    # reads it, not the machine's UTC date.
    zone = ZoneInfo(yaml.safe_load((REPO / "mappings" / "demo.yaml").read_text())["time_zone"])
    assert f"demo as of {datetime.now(zone).date().isoformat()}: succeeded" in first, first[-3000:]

    # What `make dev` reads: the demo district's folder and credentials, owner-only; with it
    # alone, the district's configuration is complete (no variable to set by hand).
    env_file = tmp_path / "demo" / "dev.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    dev_env = {k: v for k, v in os.environ.items() if not k.startswith("PASSBACK_DEMO")}
    dev_env |= dict(shlex.split(line)[0].split("=", 1)
                    for line in env_file.read_text().splitlines())
    checked = subprocess.run([sys.executable, "-m", "passback.cli", "check-config"], cwd=REPO,
                             env=dev_env, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and "1 district(s)" in checked.stdout, checked.stderr

    again = _demo(tmp_path)
    assert [int(n) for n in re.findall(r"SIS: sent (\d+)", again)] == [0] * len(sent), \
        again[-3000:]


@pytest.mark.slow
def test_a_busy_port_is_an_error_that_names_its_process(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "PASSBACK_HOME": str(tmp_path)}
        done = subprocess.run(
            [sys.executable, "-m", "passback.cli", "demo", "--out", str(tmp_path / "demo"),
             "--port", str(port)], cwd=REPO, env=env, capture_output=True, text=True,
            timeout=120)

    assert done.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use by pid {os.getpid()}" in done.stderr
    assert not (tmp_path / "demo").exists()  # nothing generated, nothing rewritten


def test_a_port_left_in_time_wait_is_not_busy() -> None:
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end waits in TIME_WAIT
        client.close()
        assert port_in_use(port)  # still listening
    assert not port_in_use(port)  # closed: only TIME_WAIT remains, as after a demo
