"""What happens after a record was sent: SIS refusals, removals, closed periods, dry runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.report.data import load_report_data
from pipeline.sink import SyncReport, plan_sync
from pipeline.sink.plan import ACTIONS
from pipeline.sink.refusals import refresh_sis_refusals
from pipeline.sink.run import OUTCOMES, store_plan
from pipeline.warehouse import connect, transaction
from tests.sink.helpers import (
    AS_OF,
    GP_FALL,
    Gradebook,
    connector,
    district_config,
    ledger,
    sync,
    writes,
)
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run


@pytest.fixture
def skyward(bundle: Path, credentials_env: None) -> SandboxSIS:
    """A Skyward sandbox: titles of 50 characters or more are refused."""
    with SandboxSIS(bundle, profile="skyward") as sis:
        yield sis


def _rejections(path: Path, rule: str = "sis_rejected") -> list[tuple]:
    # One rule at a time: a refused line item's results have rows of their own now.
    with connect(path) as conn:
        return conn.execute("SELECT entity, assignment_id, student_sourced_id, rule, message "
                            "FROM passback.rejections WHERE rule = ? "
                            "ORDER BY entity, student_sourced_id", [rule]).fetchall()


def _adds_up(report: SyncReport) -> bool:
    """Every object of the plan has exactly one outcome."""
    metadata = report.metadata()
    return (sum(report.outcomes().values()) == report.objects == sum(report.planned.values())
            == metadata["objects"] == metadata["accounted_for"])


def test_a_refused_line_item_is_recorded_and_not_retried_until_it_changes(
        skyward: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(2)
    gradebook.line_item("li-0001")["title"] = "A title that is far too long for Skyward's gradebook"
    gradebook.save()
    config = district_config(skyward, profile="skyward", concurrency=5)

    first = sync(gradebook, config)

    assert first.counters.refused == 1
    assert first.counters.blocked == 3  # its scores are never sent to a missing line item
    state, status, message = ledger(gradebook.path)["li-0001"]
    assert (state, status) == ("rejected", 422)
    assert "title has 52 characters" in message  # the SIS's own words
    [rejection] = _rejections(gradebook.path)
    assert rejection[:4] == ("line_item", "as-1", None, "sis_rejected") and \
        rejection[4] == message

    start = len(skyward.request_log)
    second = sync(gradebook, config)
    assert writes(skyward, start) == [] and second.planned["refused"] == 1
    assert second.planned["blocked"] == 3
    assert len(_rejections(gradebook.path)) == 1  # still reported, not duplicated

    gradebook.line_item("li-0001")["title"] = "Short"
    gradebook.save()
    third = sync(gradebook, config)
    assert third.counters.sent == 1 + 3 and third.counters.refused == 0
    assert _rejections(gradebook.path) == []


def test_results_blocked_by_a_refused_line_item_are_traced_and_the_counts_add_up(
        skyward: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(3)
    title = "A title that is far too long for Skyward's gradebook"
    gradebook.line_item("li-0001")["title"] = title
    gradebook.save()
    config = district_config(skyward, profile="skyward", concurrency=5)

    first = sync(gradebook, config)

    reason = ledger(gradebook.path)["li-0001"][2]
    blocked = _rejections(gradebook.path, "line_item_refused_by_sis")
    assert len(blocked) == first.counters.blocked == 3
    for entity, assignment, student, _rule, message in blocked:
        assert (entity, assignment) == ("result", "as-1") and student in message
        assert f"'{title}'" in message and "as-1" in message and message.endswith(reason)
    assert first.outcomes() == {**dict.fromkeys(OUTCOMES, 0), "sent": 2 * (1 + 3),
                                "refused": 1, "blocked": 3}
    assert _adds_up(first)

    second = sync(gradebook, config)  # nothing is sent: refused before, still blocked
    assert second.outcomes()["still_refused"] == 1 and second.outcomes()["blocked"] == 3
    assert second.outcomes()["unchanged"] == 8 and _adds_up(second)
    assert _rejections(gradebook.path, "line_item_refused_by_sis") == blocked

    with connect(gradebook.path) as conn:
        # A rules run replaces the partition's rejections and rebuilds these from the ledger,
        # so the quality report that follows it lists them.
        with transaction(conn):
            conn.execute("DELETE FROM passback.rejections")
            refresh_sis_refusals(conn, gradebook.district, GP_FALL)
        by_rule = load_report_data(conn, gradebook.district, GP_FALL).by_rule
    counts = dict(zip(by_rule["rule"], by_rule["rejects"], strict=True))
    assert counts == {"line_item_refused_by_sis": 3, "sis_rejected": 1}

    gradebook.line_item("li-0001")["title"] = "Short"
    gradebook.save()
    third = sync(gradebook, config)
    assert third.counters.sent == 1 + 3 and _adds_up(third)
    assert _rejections(gradebook.path, "line_item_refused_by_sis") == []


def test_a_dry_run_and_a_closed_period_add_up_too(sandbox: SandboxSIS,
                                                  gradebook: Gradebook) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    dry = sync(gradebook, district_config(sandbox), dry_run=True)
    assert dry.outcomes()["not_sent"] == 8 and _adds_up(dry)
    gradebook.save(close_window=(GP_FALL,))
    closed = sync(gradebook, district_config(sandbox))
    assert closed.outcomes()["frozen"] == 8 and _adds_up(closed)


def test_a_closed_grading_window_refusal_is_recorded(
        bundle: Path, credentials_env: None, gradebook: Gradebook) -> None:
    gradebook.add_line_items(1)
    gradebook.save()
    with SandboxSIS(bundle, profile="oneroster", closed_grading_periods=[GP_FALL]) as sis:
        # The district's configuration did not predict it: only the SIS knows it is closed.
        report = sync(gradebook, district_config(sis))

    assert report.counters.refused == 1 and report.counters.sent == 0
    assert "is closed" in ledger(gradebook.path)["li-0000"][2]


def test_removed_records_stop_syncing_and_stay_in_the_sis_by_default(
        sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    config = district_config(sandbox)
    sync(gradebook, config)
    gradebook.drop_line_item("li-0001")
    gradebook.save()
    start = len(sandbox.request_log)

    # Half of a two-line-item gradebook: the mass-change safeguard holds it unless confirmed.
    report = sync(gradebook, config, allow_mass_change=True)

    assert writes(sandbox, start) == []
    assert report.planned["stopped"] == 1 + 3
    assert sandbox.store.line_item("li-0001") is not None


def test_removed_records_are_deleted_when_the_district_propagates_deletions(
        sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    config = district_config(sandbox, propagate_deletions=True)
    sync(gradebook, config)
    gradebook.drop_line_item("li-0001")
    gradebook.save()
    start = len(sandbox.request_log)

    report = sync(gradebook, config, allow_mass_change=True)  # half the gradebook: confirmed

    deletes = [p.split("/")[-2] for m, p, _ in writes(sandbox, start) if m == "DELETE"]
    assert deletes == ["results"] * 3 + ["lineItems"]  # the line item with its results
    assert report.counters.deleted == 4
    assert sandbox.store.line_item("li-0001") is None
    assert sandbox.store.results("li-0001") == []
    assert ledger(gradebook.path)["li-0001"][0] == "deleted"
    assert sync(gradebook, config).requests == 0


def test_a_closed_grading_period_is_planned_but_never_written(
        sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    sync(gradebook, district_config(sandbox, propagate_deletions=True))
    gradebook.set_score(gradebook.results[0]["sourced_id"], 1.5)
    gradebook.drop_line_item("li-0001")
    gradebook.save()
    closed = district_config(sandbox, propagate_deletions=True,
                             closed_grading_periods={"listed": [GP_FALL]})
    start = len(sandbox.request_log)

    report = sync(gradebook, closed)

    assert writes(sandbox, start) == []
    assert report.closed and report.planned["frozen"] == 1 + 4
    assert sandbox.store.line_item("li-0001") is not None


def test_the_sis_grading_window_flag_closes_a_period(
        sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(1)
    gradebook.save(close_window=(GP_FALL,))
    plan = plan_sync(district_config(sandbox), GP_FALL, connect=connector(gradebook.path),
                     as_of=AS_OF)
    assert plan.closed and plan.counts()["frozen"] == 4


@pytest.mark.parametrize("where", ["district", "run"])
def test_dry_run_plans_and_sends_nothing(sandbox: SandboxSIS, gradebook: Gradebook,
                                         where: str) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    config = district_config(sandbox, dry_run=where == "district")

    report = sync(gradebook, config, **({"dry_run": True} if where == "run" else {}))

    assert sandbox.request_log == []
    assert report.dry_run and report.planned["create"] == 8
    sample = report.metadata()["sample_payloads"]["create"][0]
    assert sample["lineItem"]["sourcedId"] == "li-0000"
    with connect(gradebook.path) as conn:
        rows = conn.execute("SELECT action, dry_run, payload IS NOT NULL FROM "
                            "passback.sync_plan").fetchall()
        ledger_rows = conn.execute("SELECT count(*) FROM passback.sync_ledger").fetchone()
    assert set(rows) == {("create", True, True)} and len(rows) == 8
    assert ledger_rows == (0,)


def test_the_plan_is_stored_whole_and_read_back_in_batches(
        sandbox: SandboxSIS, gradebook: Gradebook, monkeypatch: pytest.MonkeyPatch) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    config = district_config(sandbox)
    plan = plan_sync(config, GP_FALL, connect=connector(gradebook.path), as_of=AS_OF)
    monkeypatch.setattr("pipeline.sink.plan.READ_ROWS", 3)  # in batches of 3
    for run_id in ("first", "second"):  # each run's plan is kept whole
        stored = store_plan(connector(gradebook.path), config, GP_FALL, run_id, dry_run=True,
                            as_of=AS_OF)
        # Read back three rows at a time, in the order the plan that wrote nothing has.
        assert [(a.entity, a.sourced_id, a.action, a.payload_hash)
                for a in stored.select(ACTIONS)] == \
            [(a.entity, a.sourced_id, a.action, a.payload_hash) for a in plan.actions]
    with connect(gradebook.path) as conn:
        rows = conn.execute("SELECT run_id, entity, sourced_id, payload FROM "
                            "passback.sync_plan").fetchall()
    for kept in ("first", "second"):
        assert sorted((entity, sourced_id) for run_id, entity, sourced_id, _ in rows
                      if run_id == kept) == sorted((a.entity, a.sourced_id) for a in plan.actions)
    assert len(plan.actions) > 3 and len(rows) == 2 * len(plan.actions)
    assert all(payload for *_, payload in rows)


def test_a_body_that_breaks_the_spec_is_never_sent(sandbox: SandboxSIS,
                                                   gradebook: Gradebook) -> None:
    gradebook.add_line_items(2)
    gradebook.line_item("li-0001")["school_sourced_id"] = None  # 1.2 line items need a school
    gradebook.save()

    report = sync(gradebook, district_config(sandbox))

    assert report.planned["invalid"] == 1 and report.planned["blocked"] == 3
    assert report.counters.sent == 1 + 3
    assert sandbox.store.line_item("li-0001") is None
    plan = plan_sync(district_config(sandbox), GP_FALL, connect=connector(gradebook.path),
                     as_of=AS_OF)
    [invalid] = [a for a in plan.actions if a.action == "invalid"]
    assert "school" in (invalid.reason or "")
