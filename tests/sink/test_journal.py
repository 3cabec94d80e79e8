"""The write-ahead journal and the history tables, without a SIS: what a journal line holds,
how a dead run's journal becomes events, retention, run rows, and old -> new values."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.sink.history import (
    Journal,
    first_seq,
    ingest_left_journals,
    record_run,
    settle_journal,
    trim_history,
)
from pipeline.sink.ledger import SENT, Outcome, write_outcomes
from pipeline.sink.lookup import plan_changes, record_changes, resolve_grading_period
from pipeline.sink.plan import ACTIONS, Action, SyncPlan
from pipeline.warehouse import connect
from tests.sink.helpers import DISTRICT, GP_FALL, connector, events

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def _request(journal: Journal, sourced_id: str, action: str = "create") -> int:
    return journal.request(entity="results", sourced_id=sourced_id, action=action, at=NOW,
                           grading_period=GP_FALL, line_item="li-0000", payload_hash="v2:abc",
                           class_sourced_id="class-0", student_sourced_id="student-0")


def _outcome(seq: int, sourced_id: str, run_id: str = "run-1") -> Outcome:
    return Outcome(DISTRICT, "results", sourced_id, GP_FALL, "li-0000", "v2:abc", SENT, 201, 1,
                   None, NOW, run_id, seq=seq, action="create", requested_at=NOW)


def test_a_journal_is_private_and_holds_ids_and_hashes_only(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal", DISTRICT, "run-1")
    seq = _request(journal, "res-1")
    journal.answer(seq, at=NOW, status=422, state="rejected", attempts=2,
                   description="score out of range " + "x" * 900)
    journal.close()

    assert journal.path.stat().st_mode & 0o777 == 0o600
    assert journal.path.parent.stat().st_mode & 0o777 == 0o700
    head, request, answer = (json.loads(line) for line in journal.path.read_text().splitlines())
    assert head == {"kind": "run", "district": DISTRICT, "run_id": "run-1"}
    assert set(request) == {"kind", "seq", "stamp", "entity", "sourced_id", "action",
                            "grading_period", "line_item", "class", "student", "payload_hash"}
    assert (answer["seq"], answer["status"], answer["state"], answer["attempts"]) == \
        (1, 422, "rejected", 2)
    assert len(answer["description"]) == 500  # the SIS's free text, kept short


def test_a_dead_runs_journal_becomes_events_once(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    journal = Journal(tmp_path / "journal", DISTRICT, "dead")
    for n in range(1, 4):
        _request(journal, f"res-{n}")
    journal.answer(1, at=NOW, status=201, state=SENT, attempts=1, description=None)
    journal.answer(2, at=NOW, status=201, state=SENT, attempts=1, description=None)
    os.write(os.open(journal.path, os.O_WRONLY | os.O_APPEND), b'{"kind":"answer","seq":3,"st')
    journal.close()
    other = Journal(tmp_path / "journal", "elsewhere", "dead")  # another district's
    _request(other, "res-9")
    other.close()
    with connect(path) as conn:  # the ledger writer committed request 1 before the kill
        write_outcomes(conn, [_outcome(1, "res-1", "dead")])
    lines: list[str] = []

    added = ingest_left_journals(connector(path), tmp_path / "journal", DISTRICT, lines.append)

    recorded = {e["seq"]: (e["sourced_id"], e["state"], e["http_status"])
                for e in events(path, "dead")}
    assert added == 2 and recorded == {1: ("res-1", SENT, 201), 2: ("res-2", SENT, 201),
                                       3: ("res-3", "unanswered", None)}
    assert "2 request(s)" in lines[0] and "1 of them 'unanswered'" in lines[0]
    assert not journal.path.exists() and other.path.exists()
    assert ingest_left_journals(connector(path), tmp_path / "journal", DISTRICT,
                                lines.append) == 0


def test_a_finished_run_leaves_no_journal(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    done = Journal(tmp_path / "journal", DISTRICT, "done")
    _request(done, "res-1")
    settle_journal(connector(path), done, 1, DISTRICT, print)
    aborted = Journal(tmp_path / "journal", DISTRICT, "aborted")
    _request(aborted, "res-1")
    seq = _request(aborted, "res-2")  # answered 401, so no outcome went to the ledger
    aborted.answer(seq, at=NOW, status=None, state="failed", attempts=1, description="denied")

    settle_journal(connector(path), aborted, 0, DISTRICT, print)

    assert list((tmp_path / "journal").iterdir()) == []
    assert events(path, "done") == []
    assert [(e["sourced_id"], e["state"]) for e in events(path, "aborted")] == [
        ("res-1", "unanswered"), ("res-2", "failed")]


def test_retention_trims_only_the_district_and_only_what_is_old(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with connect(path) as conn:
        write_outcomes(conn, [_outcome(1, "res-1"), _outcome(2, "res-2")])
        conn.execute("UPDATE passback.sync_events SET requested_at = ? WHERE seq = 1",
                     [NOW - timedelta(days=11)])
        for district in (DISTRICT, "elsewhere"):
            record_run(conn, district=district, grading_period=GP_FALL, run_id="run-1",
                       dry_run=False, closed=False, planned_at=NOW - timedelta(days=11),
                       counts={"create": 2}, planned_requests=2)

    deleted = trim_history(connector(path), DISTRICT, 10, lambda line: None, now=NOW)

    assert deleted == {"sync_events": 1, "sync_plan": 0, "sync_runs": 1}
    assert [e["seq"] for e in events(path)] == [2]
    with connect(path) as conn:
        assert conn.execute("SELECT district FROM passback.sync_runs").fetchall() == [
            ("elsewhere",)]


def test_a_run_row_has_a_column_for_every_action(tmp_path: Path) -> None:
    plan = SyncPlan(DISTRICT, GP_FALL, False, [Action("results", "res-1", "kept", GP_FALL)])
    with connect(tmp_path / "warehouse.duckdb") as conn:
        record_run(conn, district=DISTRICT, grading_period=GP_FALL, run_id="r", dry_run=True,
                   closed=False, planned_at=NOW, counts=plan.counts(), planned_requests=0)
        row = conn.execute("SELECT * FROM passback.sync_runs").fetchone()
        names = [c[0] for c in conn.description]
        with pytest.raises(ValueError, match=r"no column for the action\(s\) \['resent'\]"):
            record_run(conn, district=DISTRICT, grading_period=GP_FALL, run_id="s",
                       dry_run=True, closed=False, planned_at=NOW, counts={"resent": 1},
                       planned_requests=0)
    assert row is not None and set(ACTIONS) <= set(names)
    assert dict(zip(names, row, strict=True))["kept"] == 1


def test_record_changes_compares_field_by_field() -> None:
    old = {"sourcedId": "res-1", "score": 7.0, "student": {"sourcedId": "s-1", "type": "user"},
           "comment": "late", "dateLastModified": "2026-10-01T00:00:00.000Z"}
    new = {"sourcedId": "res-1", "score": 9.5, "student": {"sourcedId": "s-1", "type": "user"},
           "dateLastModified": "2026-11-01T00:00:00.000Z"}
    assert record_changes(old, new) == [("score", "7.0", "9.5"), ("comment", "late", None)]


def test_plan_changes_take_drift_from_the_action_and_updates_from_the_plan_history(
        tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    accepted = {"sourcedId": "res-1", "score": 7.0,
                "student": {"sourcedId": "student-1", "type": "user"}}
    with connect(path) as conn:
        write_outcomes(conn, [_outcome(1, "res-1")])  # the SIS accepted v2:abc
        conn.execute("INSERT INTO passback.sync_plan (district, grading_period_sourced_id, "
                     "run_id, planned_at, dry_run, entity, sourced_id, action, reason, "
                     "payload_hash, payload) VALUES (?, ?, 'run-1', ?, false, "
                     "'results', 'res-1', 'create', NULL, 'v2:abc', ?)",
                     [DISTRICT, GP_FALL, NOW, json.dumps(accepted)])
    body = json.dumps(accepted | {"score": 9.5}).encode()
    plan = SyncPlan(DISTRICT, GP_FALL, False, [
        Action("results", "res-1", "update", GP_FALL, "li-0000", body=body,
               payload_hash="v2:new"),
        Action("results", "res-2", "overwrite", GP_FALL, "li-0000", body=body,
               payload_hash="v2:x", changes=(("score", "4.0", "9.5"),)),
        Action("results", "res-3", "kept", GP_FALL, "li-0000",
               changes=(("score", "3.0", "8.0"),)),
        Action("results", "res-4", "unchanged", GP_FALL, "li-0000"),
    ])
    with connect(path) as conn:
        shown = {c.sourced_id: c for c in plan_changes(conn, plan)}

    assert set(shown) == {"res-1", "res-2", "res-3"}
    assert shown["res-1"].changes == [("score", "7.0", "9.5")]
    assert shown["res-1"].student_sourced_id == "student-1"
    assert shown["res-2"].changes == [("score", "4.0", "9.5")]
    assert shown["res-3"].as_dict()["changes"] == [{"field": "score", "old": "3.0",
                                                    "new": "8.0"}]


def test_a_retried_run_numbers_its_requests_after_the_first_attempts(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    assert first_seq(connector(path), DISTRICT, "run-1") == 1
    with connect(path) as conn:
        write_outcomes(conn, [_outcome(1, "res-1"), _outcome(2, "res-2")])
    assert first_seq(connector(path), DISTRICT, "run-1") == 3
    assert first_seq(connector(path), "elsewhere", "run-1") == 1


def test_a_grading_period_is_named_by_sourced_id_or_partition_key(tmp_path: Path) -> None:
    with connect(tmp_path / "warehouse.duckdb") as conn:
        conn.execute("INSERT INTO passback.grading_period_partitions VALUES (?, 'Q1_2026', "
                     "'gp/q1 2026')", [DISTRICT])
        write_outcomes(conn, [_outcome(1, "res-1")])  # a ledger row in gp-fall
        assert resolve_grading_period(conn, DISTRICT, "Q1_2026") == "gp/q1 2026"
        assert resolve_grading_period(conn, DISTRICT, GP_FALL) == GP_FALL
        with pytest.raises(ValueError, match="district testdist has no grading period 'Q9' "
                           r"\(by sourcedId or partition key\); with accepted or ledger rows: "
                           "gp-fall"):
            resolve_grading_period(conn, DISTRICT, "Q9")
