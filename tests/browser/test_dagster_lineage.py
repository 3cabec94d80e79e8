"""The Dagster UI of the demo district, as a data engineer opens it: the asset graph shows the
path from the Otus export to the SIS gradebook. The webserver runs the repo's workspace with
the demo district file; Chromium renders the lineage page and its DOM is checked, beside the
GraphQL API the page itself reads. `PASSBACK_UPDATE_SCREENSHOTS=1` refreshes
docs/images/dagster-lineage.png."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.chromium import rendered_dom, screenshot
from tooling.demo import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "images" / "dagster-lineage.png"
# The lineage page of the SIS gradebook, three levels upstream (Otus table -> line items ->
# sink -> SIS): where the grades in the SIS come from.
LINEAGE = "/assets/sis_gradebook?view=lineage&lineageScope=upstream&lineageDepth=3"
# A node's name: the first text inside its name element (zoomed out or not).
ASSET_NAME = re.compile(r'class="AssetNode_assetName[^"]*"[^>]*>(?:<[^>]+>)*([^<]+)<')
GRAPH_QUERY = "{ assetNodes { assetKey { path } dependencyKeys { path } } }"


def _get(url: str, body: bytes | None = None) -> bytes:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return bytes(response.read())


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """dagster-webserver on a free loopback port, the repo's workspace, the demo district."""
    home = tmp_path_factory.mktemp("dagster_home")
    settings = (REPO / "pipeline" / "dagster.yaml").read_text()
    # No first-visit newsletter dialog over the page (a person clicks it away once).
    (home / "dagster.yaml").write_text(settings + "\nnux:\n  enabled: false\n")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home),
           "PASSBACK_MAPPINGS_DIR": str(REPO / "mappings"),
           "PASSBACK_HOME": str(tmp_path_factory.mktemp("passback_home"))}
    log = home / "webserver.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-webserver")), "-w", "workspace.yaml",
             "-h", "127.0.0.1", "-p", str(port)], cwd=REPO, env=env, stdout=out,
            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                _get(f"{url}/server_info")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"dagster-webserver did not start: {log.read_text()[-3000:]}")
                time.sleep(1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _upstream_path(edges: dict[str, list[str]], target: str, start: str) -> list[str]:
    """The shortest path from a key starting with `start` to `target`, following dependencies
    backwards (breadth first); [] when there is none."""
    came_from: dict[str, str | None] = {target: None}
    queue = deque([target])
    while queue:
        key = queue.popleft()
        if key.startswith(start):
            path = [key]
            while came_from[path[-1]] is not None:
                path.append(came_from[path[-1]])  # type: ignore[arg-type]
            return path
        for upstream in edges.get(key, []):
            if upstream not in came_from:
                came_from[upstream] = key
                queue.append(upstream)
    return []


def test_the_lineage_shows_the_path_from_the_otus_export_to_the_sis(webserver: str,
                                                                    tmp_path: Path) -> None:
    answer = json.loads(_get(f"{webserver}/graphql",
                             json.dumps({"query": GRAPH_QUERY}).encode()))
    nodes = answer["data"]["assetNodes"]
    edges = {"/".join(n["assetKey"]["path"]): ["/".join(d["path"]) for d in n["dependencyKeys"]]
             for n in nodes}
    path = _upstream_path(edges, "sis_gradebook", "otus/")
    assert path and path[-1] == "sis_gradebook" and "passback/sis_sync" in path, path

    dom = rendered_dom(webserver + LINEAGE)
    shown = set(ASSET_NAME.findall(dom))
    # Every asset on the path is drawn on the page (nodes show the key's last part).
    assert {key.rsplit("/", 1)[-1] for key in path} <= shown, (path, sorted(shown))
    assert "Join the Dagster community" not in dom

    shot = screenshot(webserver + LINEAGE, tmp_path / "lineage.png")
    assert shot.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("PASSBACK_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(shot.read_bytes())
