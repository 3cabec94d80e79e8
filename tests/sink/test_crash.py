"""A sync killed mid-way (SIGKILL, no cleanup) resumes: nothing missing, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from tests.sink.helpers import Gradebook, district_config, ledger, ledgered_sent, sync, writes
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run

REPO = Path(__file__).resolve().parents[2]


def _run_and_kill(gradebook: Gradebook, sis: SandboxSIS, total: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.sink.sync_child", str(gradebook.path), sis.url,
         str(gradebook.path.parent / "locks")],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        # Kill once some outcomes are committed and plenty of writes are still to come.
        while time.monotonic() < deadline and child.poll() is None:
            if ledgered_sent(gradebook.path) >= 20 and len(writes(sis)) < total - 20:
                break
            time.sleep(0.05)
        assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)


def test_a_killed_sync_resumes_where_it_stopped(bundle: Path, credentials_env: None,
                                                gradebook: Gradebook) -> None:
    gradebook.add_line_items(40)
    gradebook.save()
    total = 40 + 120
    with SandboxSIS(bundle, faults="latency_ms=25") as sis:
        _run_and_kill(gradebook, sis, total)
        committed = {sid for sid, (state, _, _) in ledger(gradebook.path).items()
                     if state == "sent"}
        assert 20 <= len(committed) < total  # written as outcomes arrived, not at the end
        before = len(sis.request_log)

        resumed = sync(gradebook, district_config(sis))

        resent = {path.rsplit("/", 1)[1] for _, path, _ in writes(sis, before)}
        assert not resent & committed  # what the ledger recorded is never sent again
        assert resumed.counters.sent == len(resent) <= total - len(committed)
        accepted = Counter(path.rsplit("/", 1)[1] for _, path, status in writes(sis)
                           if status in (200, 201, 204))
        # An object may be accepted twice only if the kill fell between the SIS's answer and
        # the ledger's commit: a replay of an idempotent PUT, never a second object.
        assert max(accepted.values()) <= 2
        assert {li["sourcedId"] for li in sis.store.line_items()} == \
            {li["sourced_id"] for li in gradebook.line_items}
        assert sorted(r["sourcedId"] for r in sis.store.results()) == \
            sorted(r["sourced_id"] for r in gradebook.results)
        assert sync(gradebook, district_config(sis)).requests == 0


def test_a_killed_sync_loses_no_event(bundle: Path, credentials_env: None,
                                      gradebook: Gradebook) -> None:
    """Every write request the SIS received from the killed run has its row in
    passback.sync_events once the next sync ran, answered or `unanswered`."""
    gradebook.add_line_items(40)
    gradebook.save()
    journal = gradebook.path.parent / "journal"
    with SandboxSIS(bundle, faults="latency_ms=25") as sis:
        _run_and_kill(gradebook, sis, 40 + 120)
        time.sleep(0.3)  # a request already on the wire still reaches the SIS
        received = Counter(path.rsplit("/", 1)[1] for _, path, _ in writes(sis))
        [left] = list(journal.iterdir())  # the dead run's journal, owner-only
        assert left.stat().st_mode & 0o777 == 0o600 and journal.stat().st_mode & 0o777 == 0o700
        assert _events(gradebook.path) < sum(received.values())  # the ledger lagged behind

        sync(gradebook, district_config(sis), run_id="next")

    with duckdb.connect(str(gradebook.path), read_only=True) as conn:
        rows = conn.execute("SELECT sourced_id, state FROM passback.sync_events "
                            "WHERE run_id <> 'next'").fetchall()
    recorded = Counter(sourced_id for sourced_id, _ in rows)
    assert all(recorded[sourced_id] >= n for sourced_id, n in received.items()), \
        {s: (n, recorded[s]) for s, n in received.items() if recorded[s] < n}
    # Journaled but not answered: in flight at the kill (two workers, one spare each).
    assert sum(1 for _, state in rows if state == "unanswered") <= 4
    assert list(journal.iterdir()) == []


def _events(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as conn:
        row = conn.execute("SELECT count(*) FROM passback.sync_events").fetchone()
        return int(row[0]) if row else 0
