"""Two syncs of one district and grading period, in two processes at once: the second waits
for the first (and says so), plans after it, and sends nothing twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.sink.run import district_lock
from tests.reliability.helpers import write_report
from tests.sink.helpers import ENV, Gradebook, roster_tables
from tooling.sandbox import SandboxCredentials, SandboxSIS
from tooling.sandbox.bundle import write_bundle

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run

REPO = Path(__file__).resolve().parents[2]


def _start(gradebook: Gradebook, sis: SandboxSIS, locks: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sink.sync_child", str(gradebook.path), sis.url,
         str(locks)], cwd=REPO, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)


def test_second_sync_of_a_district_waits_for_the_first(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Concurrent syncs never write the same SIS at once: while one holds the district's
    lock, another process waits (and says so) without sending; a later one sends nothing."""
    creds = SandboxCredentials()
    monkeypatch.setenv(ENV["client_id"], creds.client_id)
    monkeypatch.setenv(ENV["client_secret"], creds.client_secret)
    bundle = write_bundle(tmp_path / "bundle", roster_tables(6, 2))
    gradebook = Gradebook(tmp_path / "warehouse.duckdb")
    gradebook.add_line_items(20)
    gradebook.save()
    objects = len(gradebook.line_items) + len(gradebook.results)
    locks = tmp_path / "locks"
    with SandboxSIS(bundle, faults="latency_ms=20") as sis:
        # This test plays the first sync: it holds the district's lock as a running sync does.
        with district_lock("testdist", locks, lambda line: None):
            second = _start(gradebook, sis, locks)
            assert second.stdout is not None
            said = ""  # the lock comes before the plan's first line
            while "waiting" not in said and (line := second.stdout.readline()):
                said += line
            writes_while_held = sum(1 for m, _p, _s in sis.request_log if m == "PUT")
        out_second, _ = second.communicate(timeout=120)
        out_second = said + out_second
        third = _start(gradebook, sis, locks)  # a later sync finds everything sent
        out_third, _ = third.communicate(timeout=120)
        puts = [p for m, p, _s in sis.request_log if m == "PUT"]
    out_first = f"(held by the test) PUTs while held: {writes_while_held}"
    summary = [f"- injected: a sync process of a district whose lock another sync holds "
               f"({objects} objects to send); {out_first}",
               f"- PUTs seen by the SIS: {len(puts)} ({len(set(puts))} distinct)",
               f"- second sync said: {[ln for ln in out_second.splitlines() if 'wait' in ln]}"]
    write_report("concurrency", summary)
    report = "\n".join(summary) + f"\n--- first\n{out_first[-1500:]}\n--- second\n" \
        f"{out_second[-1500:]}\n--- third\n{out_third[-3000:]}"
    assert second.returncode == 0 and third.returncode == 0, report
    assert writes_while_held == 0, report
    assert "{'unchanged': 80}" in out_third, report
    assert "another sync is writing testdist's SIS; waiting for it to finish" in out_second, \
        report
    assert len(puts) == len(set(puts)) == objects, report  # nothing sent twice
