"""The sink's history over the sandbox: one event per write request, every run's plan kept,
retention, and the `passback plan` / `passback history` commands on a real warehouse."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from passback.cli import main
from pipeline.warehouse import connect
from tests.sink.helpers import (
    AS_OF,
    DISTRICT,
    GP_FALL,
    Gradebook,
    district_config,
    events,
    sync,
    writes,
)
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts the sandbox


def _count(path: Path, sql: str) -> int:
    with connect(path) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def test_every_write_is_an_event_and_history_shows_a_student(
        sandbox: SandboxSIS, gradebook: Gradebook, cli: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    gradebook.add_line_items(2)
    gradebook.save()

    sync(gradebook, district_config(sandbox), run_id="run-1")

    sent = writes(sandbox)
    recorded = events(gradebook.path, "run-1")
    assert len(recorded) == len(sent) == 2 + 6
    assert sorted(e["sourced_id"] for e in recorded) == sorted(p.rsplit("/", 1)[1]
                                                               for _, p, _ in sent)
    assert {(e["state"], e["http_status"], e["attempts"]) for e in recorded} == {("sent", 201, 1)}
    assert sorted(e["seq"] for e in recorded) == list(range(1, 9))
    assert all(e["answered_at"] >= e["requested_at"] for e in recorded)
    results = [e for e in recorded if e["entity"] == "results"]
    assert all(e["student_sourced_id"] and e["class_sourced_id"] for e in results)
    assert list((gradebook.path.parent / "journal").iterdir()) == []  # a finished run: none

    assert main(["history", "--district", DISTRICT, "--student", "student-0",
                 "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {row["sourced_id"] for row in shown} == {
        r["sourced_id"] for r in gradebook.results if r["student_sourced_id"] == "student-0"}
    assert {(row["state"], row["http_status"]) for row in shown} == {("sent", 201)}

    assert main(["history", "--district", DISTRICT, "--assignment", "as-1"]) == 0
    table = capsys.readouterr().out
    assert "li-0001" in table and "res-li-0001-1" in table and "li-0000" not in table

    assert main(["history", "--district", DISTRICT, "--student", "student-99"]) == 1
    assert "no write requests recorded for district testdist matching student student-99" \
        in capsys.readouterr().err


def test_two_runs_keep_two_plans_and_a_dry_run_its_own(sandbox: SandboxSIS,
                                                       gradebook: Gradebook) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    config = district_config(sandbox)
    sync(gradebook, config, run_id="run-1")
    gradebook.set_score("res-li-0000-0", 9.5)
    gradebook.save()
    sync(gradebook, config, run_id="run-2")
    gradebook.set_score("res-li-0000-0", 8.0)
    gradebook.save()
    sync(gradebook, config, run_id="run-3", dry_run=True)

    with connect(gradebook.path) as conn:
        plans = conn.execute("SELECT run_id, action, count(*) FROM passback.sync_plan "
                             "GROUP BY ALL ORDER BY ALL").fetchall()
        runs = conn.execute('SELECT run_id, dry_run, "create", "update", unchanged, '
                            "planned_requests, write_requests, finished_at IS NOT NULL "
                            "FROM passback.sync_runs ORDER BY run_id").fetchall()
    # Unchanged objects are counted in the run's row, not kept as plan rows.
    assert plans == [("run-1", "create", 8), ("run-2", "update", 1), ("run-3", "update", 1)]
    assert runs == [("run-1", False, 8, 0, 0, 8, 8, True), ("run-2", False, 0, 1, 7, 1, 1, True),
                    ("run-3", True, 0, 1, 7, 1, 0, True)]
    assert len(events(gradebook.path, "run-2")) == 1 and events(gradebook.path, "run-3") == []


def test_retention_trims_what_is_older_than_the_district_keeps(sandbox: SandboxSIS,
                                                               gradebook: Gradebook) -> None:
    gradebook.add_line_items(1)
    gradebook.save()
    config = district_config(sandbox, history_retention_days=30)
    sync(gradebook, config, run_id="old")
    old = datetime.now(UTC) - timedelta(days=31)
    with connect(gradebook.path) as conn:
        conn.execute("UPDATE passback.sync_events SET requested_at = ? WHERE seq <= 2", [old])
        conn.execute("UPDATE passback.sync_plan SET planned_at = ?", [old])
        conn.execute("UPDATE passback.sync_runs SET planned_at = ?", [old])
    lines: list[str] = []

    sync(gradebook, config, run_id="new", log=lines.append)

    assert _count(gradebook.path, "SELECT count(*) FROM passback.sync_events") == 4 - 2
    assert _count(gradebook.path, "SELECT count(*) FROM passback.sync_plan") == 0
    assert _count(gradebook.path, "SELECT count(*) FROM passback.sync_runs "
                                  "WHERE run_id = 'old'") == 0
    assert _count(gradebook.path, "SELECT count(*) FROM passback.sync_runs "
                                  "WHERE run_id = 'new'") == 1
    [said] = [line for line in lines if line.startswith("history: kept 30 days")]
    assert "trimmed 2 event(s), 4 plan row(s), 1 run row(s) of testdist" in said


def test_plan_shows_a_changed_score_old_to_new_and_sends_nothing(
        sandbox: SandboxSIS, gradebook: Gradebook, cli: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    sync(gradebook, district_config(sandbox), run_id="run-1")
    gradebook.set_score("res-li-0000-0", 9.5)
    gradebook.save()
    requests = len(sandbox.request_log)
    written = _count(gradebook.path, "SELECT count(*) FROM passback.sync_plan") + _count(
        gradebook.path, "SELECT count(*) FROM passback.sync_runs")

    assert main(["plan", "--district", DISTRICT, "--as-of", AS_OF.isoformat(),
                 "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert main(["plan", "--district", DISTRICT, "--grading-period", GP_FALL,
                 "--as-of", AS_OF.isoformat()]) == 0
    table = capsys.readouterr().out

    [period] = document["grading_periods"]
    assert period["grading_period"] == GP_FALL and period["counts"]["update"] == 1
    [update] = period["actions"]
    assert (update["action"], update["sourced_id"], update["student_sourced_id"]) == \
        ("update", "res-li-0000-0", "student-0")
    assert update["changes"] == [{"field": "score", "old": "0.0", "new": "9.5"}]
    assert "score: 0.0 -> 9.5" in table and "unchanged  7" in table
    assert len(sandbox.request_log) == requests  # nothing sent, not even a token request
    assert _count(gradebook.path, "SELECT count(*) FROM passback.sync_plan") + _count(
        gradebook.path, "SELECT count(*) FROM passback.sync_runs") == written
