"""Bulk OneRoster 1.2 writes against the sandbox: creates in bulk bodies, updates by PUT, a
SIS without bulk POSTs, a refused record inside a body, and a SIS that allocates its own
sourcedIds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.sink.run import plan_sync
from pipeline.warehouse import connect
from tests.sink.helpers import (
    AS_OF,
    GP_FALL,
    Gradebook,
    connector,
    district_config,
    events,
    ledger,
    ledgered_sent,
    posts,
    sync,
    writes,
)
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts the sandbox
REPO = Path(__file__).resolve().parents[2]


def _capabilities(path: Path) -> tuple[bool | None, bool | None]:
    with connect(path) as conn:
        row = conn.execute("SELECT bulk_writes, allocates_ids FROM passback.sis_capabilities"
                           ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def test_first_sync_by_bulk_then_a_delta_by_put_then_nothing(
        sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(6)
    gradebook.save()
    config = district_config(sandbox, bulk_writes="auto", bulk_max_records=5)

    first = sync(gradebook, config)

    assert first.counters.sent == 6 + 18 and first.counters.refused == 0
    assert writes(sandbox) == []  # no PUT: every create went in a bulk body
    sent = posts(sandbox)
    # Line items by class (3 per class, 2 classes); results by class and grading period (9
    # per class, split at 5 records): 2 + 4 bodies.
    assert [s for _, _, s in sent] == [201] * 6
    assert sum("/academicSessions/" in p for _, p, _ in sent) == 4
    assert first.metadata()["write_mode"] == "bulk"
    assert first.counters.writes == 6
    assert {li["sourcedId"] for li in sandbox.store.line_items()} == \
        {li["sourced_id"] for li in gradebook.line_items}
    assert sorted(r["sourcedId"] for r in sandbox.store.results()) == \
        sorted(r["sourced_id"] for r in gradebook.results)
    assert {state for state, _, _ in ledger(gradebook.path).values()} == {"sent"}
    assert _capabilities(gradebook.path) == (True, False)
    history = events(gradebook.path, first_run(gradebook.path))
    assert len(history) == 24 and len({e["seq"] for e in history}) == 6  # one seq per body

    gradebook.set_score("res-li-0001-1", 9.5)
    gradebook.save()
    before = len(sandbox.request_log)
    delta = sync(gradebook, config)
    assert delta.counters.sent == 1
    assert [m for m, _, _ in writes(sandbox, before)] == ["PUT"] and not posts(sandbox, before)
    assert sandbox.store.result("res-li-0001-1")["score"] == 9.5

    assert sync(gradebook, config).requests == 0


def first_run(path: Path) -> str:
    with connect(path) as conn:
        row = conn.execute("SELECT run_id FROM passback.sync_runs ORDER BY planned_at LIMIT 1"
                           ).fetchone()
    assert row is not None
    return str(row[0])


def test_a_sis_without_bulk_gets_puts_and_it_is_remembered(
        bundle: Path, credentials_env: None, gradebook: Gradebook) -> None:
    gradebook.add_line_items(4)
    gradebook.save()
    with SandboxSIS(bundle, bulk_writes=False) as sis:
        config = district_config(sis, bulk_writes="auto")
        first = sync(gradebook, config)

        assert first.counters.sent == 4 + 12 and first.counters.failed == 0
        assert [s for _, _, s in posts(sis)] == [405]  # one try, then PUT
        assert len(writes(sis)) == 16
        assert first.metadata()["write_mode"] == "put"
        assert "405" in first.metadata()["write_mode_reason"]
        assert _capabilities(gradebook.path) == (False, None)
        assert len(sis.store.results()) == 12

        gradebook.add_line_items(1)
        gradebook.save()
        before = len(sis.request_log)
        second = sync(gradebook, config)
        assert not posts(sis, before)  # remembered: no second try
        assert len(writes(sis, before)) == 1 + 3
        assert "did not offer bulk" in second.write_mode_reason


def test_a_refused_record_in_a_body_is_isolated_and_the_rest_stored(
        sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(4)
    bad = gradebook.results[5]
    bad["student_sourced_id"] = "student-999"  # no such student in the SIS
    gradebook.save()
    config = district_config(sandbox, bulk_writes="auto")

    report = sync(gradebook, config)

    assert report.counters.refused == 1 and report.counters.sent == 4 + 11
    assert not writes(sandbox)
    stored = {r["sourcedId"] for r in sandbox.store.results()}
    assert stored == {r["sourced_id"] for r in gradebook.results} - {bad["sourced_id"]}
    state, status, reason = ledger(gradebook.path)[bad["sourced_id"]]
    assert (state, status) == ("rejected", 422)
    assert "student-999" in (reason or "")
    with connect(gradebook.path) as conn:
        rows = conn.execute("SELECT student_sourced_id, message FROM passback.rejections "
                            "WHERE rule = 'sis_rejected'").fetchall()
    assert len(rows) == 1 and "student-999" in rows[0][1]
    # Its body was split until it stood alone; each split is in the history.
    assert any(e["state"] == "split" for e in events(gradebook.path))
    assert sync(gradebook, config).requests == 0  # refused: not retried until it changes


def test_a_sis_allocating_its_own_ids_is_addressed_by_them(
        bundle: Path, credentials_env: None, gradebook: Gradebook) -> None:
    gradebook.add_line_items(4)
    gradebook.save()
    with SandboxSIS(bundle, allocate_ids=True) as sis:
        config = district_config(sis, bulk_writes="auto")
        first = sync(gradebook, config)

        assert first.counters.sent == 16 and not writes(sis)
        held = ledger_sis_ids(gradebook.path)
        assert len(held) == 16 and all(v.startswith("sis-") for v in held.values())
        assert {li["sourcedId"] for li in sis.store.line_items()} == \
            {held[li["sourced_id"]] for li in gradebook.line_items}
        # Results name their line item by the id the SIS gave it, in the same run.
        for result in gradebook.results:
            stored = sis.store.result(held[result["sourced_id"]])
            assert stored is not None
            assert stored["lineItem"] == held[result["line_item_sourced_id"]]
        assert _capabilities(gradebook.path) == (True, True)

        gradebook.set_score("res-li-0001-1", 7.5)
        gradebook.line_item("li-0002")["title"] = "Renamed"
        gradebook.save()
        before = len(sis.request_log)
        delta = sync(gradebook, config)
        assert delta.counters.sent == 2
        paths = sorted(p for _, p, _ in writes(sis, before))
        assert paths == sorted([f"/ims/oneroster/gradebook/v1p2/results/{held['res-li-0001-1']}",
                                f"/ims/oneroster/gradebook/v1p2/lineItems/{held['li-0002']}"])
        assert len(sis.store.results()) == 12 and len(sis.store.line_items()) == 4
        assert sis.store.result(held["res-li-0001-1"])["score"] == 7.5

        plan = plan_sync(config, GP_FALL, connect=connector(gradebook.path), as_of=AS_OF)
        assert plan.planned_requests == 0


def ledger_sis_ids(path: Path) -> dict[str, str]:
    with connect(path) as conn:
        rows = conn.execute("SELECT sourced_id, sis_sourced_id FROM passback.sync_ledger "
                            "WHERE sis_sourced_id IS NOT NULL").fetchall()
    return {row[0]: row[1] for row in rows}


@pytest.mark.parametrize("allocate_ids", [False, True], ids=["our-ids", "sis-ids"])
def test_a_sync_killed_mid_bulk_leaves_every_record_once(
        bundle: Path, credentials_env: None, gradebook: Gradebook, allocate_ids: bool) -> None:
    gradebook.add_line_items(80)
    gradebook.save()
    total = 80 + 240
    with SandboxSIS(bundle, faults="latency_ms=100", allocate_ids=allocate_ids) as sis:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.sink.sync_child", str(gradebook.path), sis.url,
             str(gradebook.path.parent / "locks"), "4"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and child.poll() is None:
                if ledgered_sent(gradebook.path) >= 40 and len(sis.store.results()) < total - 40:
                    break
                time.sleep(0.02)
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(timeout=30)
        time.sleep(0.3)  # a body already on the wire still reaches the SIS
        held_before = {r["sourcedId"] for r in sis.store.results()}
        assert len(held_before) < 240  # killed before the last result was stored

        resumed = sync(gradebook, district_config(sis, bulk_writes="on", bulk_max_records=4),
                       run_id="next")

        assert resumed.counters.failed == 0 and resumed.counters.refused == 0
        # Every record once, under the id the ledger names for it.
        ids = ledger_sis_ids(gradebook.path)
        assert sorted(li["sourcedId"] for li in sis.store.line_items()) == \
            sorted(ids.get(li["sourced_id"], li["sourced_id"]) for li in gradebook.line_items)
        assert sorted(r["sourcedId"] for r in sis.store.results()) == \
            sorted(ids.get(r["sourced_id"], r["sourced_id"]) for r in gradebook.results)
        assert len({(r["lineItem"], r["student"]) for r in sis.store.results()}) == 240
        assert bool(ids) == allocate_ids
        # What the dead run posted without hearing back went again by PUT (by sourcedId),
        # never in a second POST.
        with connect(gradebook.path) as conn:
            unanswered = {row[0] for row in conn.execute(
                "SELECT sourced_id FROM passback.sync_events WHERE run_id <> 'next' "
                "AND state = 'unanswered'").fetchall()}
            again = conn.execute(
                "SELECT sourced_id, count(*) OVER (PARTITION BY seq) FROM passback.sync_events "
                "WHERE run_id = 'next'").fetchall()
        assert unanswered  # bodies were in flight at the kill
        if not allocate_ids:  # where it allocates, one found in the SIS is PUT, else posted
            assert all(n == 1 for sourced_id, n in again if sourced_id in unanswered)
        assert sync(gradebook, district_config(sis, bulk_writes="on")).requests == 0


def test_bulk_posts_on_a_flaky_sis_store_every_record_once(
        bundle: Path, credentials_env: None, gradebook: Gradebook) -> None:
    """500 / 502 / 503, dropped connections and 429s on the bulk POSTs themselves: a 429 or
    503 is posted again after its pause; a 500, 502 or lost answer sends the body's records
    by PUT (the SIS keeps our sourcedIds, and a PUT is retried). One run stores all."""
    gradebook.add_line_items(12)
    gradebook.save()
    faults = "seed=5,error_rate=0.3,drop_rate=0.1,burst_429=2,burst_every=7,retry_after_s=0"
    with SandboxSIS(bundle, faults=faults) as sis:
        report = sync(gradebook, district_config(sis, bulk_writes="on", bulk_max_records=3))
        failing = [s for m, _, s in sis.request_log if m == "POST" and s not in (201, 200)]
        assert {0, 500} & set(failing) or {502, 503} & set(failing)  # POSTs did fail
        assert report.counters.failed == 0 and report.counters.refused == 0
        assert sorted(r["sourcedId"] for r in sis.store.results()) == \
            sorted(r["sourced_id"] for r in gradebook.results)
        assert len(sis.store.line_items()) == 12
        assert {state for state, _, _ in ledger(gradebook.path).values()} == {"sent"}
        assert any(e["state"] == "resent" for e in events(gradebook.path))
        sis.set_faults(None)
        assert sync(gradebook, district_config(sis, bulk_writes="on")).requests == 0
