"""`passback run` against an SIS that is down or refuses the credentials: it ends within a
minute with one line per district that says what and where, exits non-zero, and keeps stack
traces in the run's logs (never on the terminal). The SIS is the sandbox over loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.orchestration.helpers import DISTRICT, District
from tooling.demo import free_port
from tooling.generate.mapping import env_prefix

pytestmark = pytest.mark.slow  # a sandbox and a Dagster run in a subprocess
PASSBACK = Path(sys.executable).with_name("passback")
# The bound: a person waits a minute at most to learn the SIS is not answering.
WITHIN_SECONDS = 60


def _run(district: District, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster"),
           "PASSBACK_WAREHOUSE": str(district.warehouse)}
    (tmp_path / "dagster").mkdir(exist_ok=True)
    return subprocess.run([str(PASSBACK), "run", "--district", DISTRICT,
                           "--as-of", district.generated.as_of.isoformat()],
                          capture_output=True, text=True, env=env, timeout=WITHIN_SECONDS)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The district's line on stderr; no stack trace anywhere on the terminal."""
    output = done.stdout + done.stderr
    assert "Traceback" not in output and 'File "' not in output, output[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith(f"{DISTRICT}: ")]
    assert len(lines) == 1, output[-3000:]
    return lines[0]


def test_an_unreachable_sis_ends_in_one_line(district: District, tmp_path: Path) -> None:
    mapping = district.generated.mapping_file
    document = yaml.safe_load(mapping.read_text())
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    document["sis"]["base_url"] = f"{dead}/ims/oneroster"
    document["sis"]["auth"]["token_url"] = f"{dead}/oauth/token"
    mapping.write_text(yaml.safe_dump(document, sort_keys=False))

    done = _run(district, tmp_path)

    assert done.returncode == 1
    line = _one_line(done)
    assert line.startswith(f"{DISTRICT}: the SIS at {dead}/ims/oneroster cannot be reached "
                           "(connection refused"), line
    assert line.endswith("nothing was sent"), line


def test_refused_credentials_end_in_one_line(district: District, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{env_prefix(DISTRICT)}_CLIENT_SECRET", "not-the-secret")

    done = _run(district, tmp_path)

    assert done.returncode == 1
    line = _one_line(done)
    assert line.startswith(f"{DISTRICT}: the extract failed: token request to "
                           f"{district.sis.token_url} was refused"), line
    assert "nothing was sent (run " in line and "not-the-secret" not in done.stderr, line
