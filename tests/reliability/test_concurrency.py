"""Two syncs of one district and grading period, in two processes at once: the second waits
for the first (and says so), plans after it, and sends nothing twice."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.sandbox import SandboxCredentials, SandboxSIS
from pipeline.sandbox.bundle import write_bundle
from tests.reliability.helpers import write_report
from tests.sink.conftest import ENV, Gradebook, roster_tables


def _start(gradebook: Gradebook, sis: SandboxSIS, locks: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sink.sync_child", str(gradebook.path), sis.url,
         str(locks)], cwd=PROJECT_ROOT, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)


def test_second_sync_of_a_district_waits_for_the_first(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Concurrent syncs never write the same SIS at once: the later one waits on the
    district's lock, then finds everything already sent."""
    creds = SandboxCredentials()
    monkeypatch.setenv(ENV["client_id"], creds.client_id)
    monkeypatch.setenv(ENV["client_secret"], creds.client_secret)
    bundle = write_bundle(tmp_path / "bundle", roster_tables(6, 2))
    gradebook = Gradebook(tmp_path / "warehouse.duckdb")
    gradebook.add_line_items(20)
    gradebook.save()
    objects = len(gradebook.line_items) + len(gradebook.results)
    with SandboxSIS(bundle, faults="latency_ms=150") as sis:
        first = _start(gradebook, sis, tmp_path / "locks")
        # The second starts once the first is writing, so it meets the lock.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(m == "PUT" for m, _p, _s
                                                      in sis.request_log):
            time.sleep(0.02)
        second = _start(gradebook, sis, tmp_path / "locks")
        out_first, _ = first.communicate(timeout=120)
        out_second, _ = second.communicate(timeout=120)
        puts = [p for m, p, _s in sis.request_log if m == "PUT"]
    summary = [f"- injected: a second sync process of the same district and grading period "
               f"while the first was writing ({objects} objects to send)",
               f"- PUTs seen by the SIS: {len(puts)} ({len(set(puts))} distinct)",
               f"- second sync said: {[ln for ln in out_second.splitlines() if 'wait' in ln]}"]
    write_report("concurrency", summary)
    report = "\n".join(summary) + f"\n--- first\n{out_first[-1500:]}\n--- second\n" \
        f"{out_second[-1500:]}"
    assert first.returncode == 0 and second.returncode == 0, report
    assert "another sync is writing testdist's SIS; waiting for it to finish" in out_second, \
        report
    assert len(puts) == len(set(puts)) == objects, report  # nothing sent twice
