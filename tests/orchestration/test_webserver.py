"""The Dagster UI's server loads the code location and serves the graph over GraphQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tooling.demo import free_port

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run

REPO = Path(__file__).resolve().parents[2]
QUERY = """
{
  assetNodes {
    assetKey { path }
    groupName
    kinds
    assetChecksOrError { ... on AssetChecks { checks { name } } }
  }
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes { schedules { name cronSchedule executionTimezone } sensors { name } }
    }
  }
}
"""


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[str]:
    """dagster-webserver on a free loopback port, stopped after the test."""
    port = free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("dagster-webserver did not answer within 120 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_graphql_serves_assets_checks_and_schedules(webserver: str) -> None:
    answer = requests.post(f"{webserver}/graphql", json={"query": QUERY}, timeout=60)
    answer.raise_for_status()
    data = answer.json()["data"]
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert {"otus/scores", "sis/enrollments", "passback/line_items", "passback/rejections",
            "passback/quality_report", "passback/sis_sync"} <= set(nodes)
    assert nodes["sis/enrollments"]["groupName"] == "sis_extract"
    assert {"oneroster", "duckdb"} <= set(nodes["passback/sis_sync"]["kinds"])
    checks = {c["name"] for c in nodes["passback/line_items"]["assetChecksOrError"]["checks"]}
    assert {"roster_not_empty", "no_duplicate_keys", "category_mapping_not_empty"} <= checks
    [repository] = data["repositoriesOrError"]["nodes"]
    schedules = {s["name"]: s for s in repository["schedules"]}
    assert schedules["nightly_demo"]["cronSchedule"] == "0 5 * * *"  # after IC's 4:10 refresh
    assert schedules["nightly_demo"]["executionTimezone"] == "America/Chicago"
    assert {s["name"] for s in repository["sensors"]} == {"grading_period_sensor"}
