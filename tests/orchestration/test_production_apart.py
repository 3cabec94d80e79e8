"""Production stands apart from its tooling: loading the code location and running a real sync
imports no module of `tooling` and no web server.

The sandbox SIS (tooling) runs in this test's process; the pipeline runs in a fresh Python
process, which reports every module it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.orchestration.helpers import DISTRICT, District

REPO = Path(__file__).resolve().parents[2]
# Web servers and the sandbox's stack: production talks HTTP as a client only.
SERVERS = ("uvicorn", "starlette", "dagster_webserver", "uvloop", "httptools")

CHILD = """
import json, sys
from datetime import date
from passback.definitions import defs
from passback.run import run_district
outcome = run_district(sys.argv[1], as_of=date.fromisoformat(sys.argv[2]), log=lambda _: None)
sent = [p.value("passback/sis_sync", "sent") for p in outcome.periods]
print(json.dumps({"success": outcome.success, "sent": sent, "modules": sorted(sys.modules)}))
"""


@pytest.mark.slow
def test_a_real_sync_imports_no_tooling_and_no_web_server(district: District,
                                                          tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, DISTRICT, district.generated.as_of.isoformat()],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["success"] and sum(report["sent"]) > 0  # the sink really wrote
    assert len(district.sis.store.results()) > 0
    modules = report["modules"]
    assert "passback.definitions" in modules and "pipeline.sink.run" in modules
    tooling = [m for m in modules if m == "tooling" or m.startswith("tooling.")]
    servers = [m for m in modules if m.split(".")[0] in SERVERS]
    assert not tooling, tooling
    assert not servers, servers
