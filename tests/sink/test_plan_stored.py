"""The stored plan as the sender reads it: SIS-allocated sourcedIds on each action and in the
reconciliation, the line items held before sending, counts and rows from SQL, nothing stored
for `unchanged`, and batches read in send order. No SIS: the warehouse is filled directly."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from pipeline.sink.ledger import SENT, Outcome, write_outcomes
from pipeline.sink.plan import ACTIONS, PUTS
from pipeline.sink.planner import plan_partition
from pipeline.sink.run import plan_sync, store_plan
from pipeline.warehouse import connect
from tests.sink.helpers import AS_OF, DISTRICT, GP_FALL, Gradebook, connector, district_config

NO_SIS = SimpleNamespace(url="https://sis.invalid", token_url="https://sis.invalid/token")
SENT_AT = datetime(2026, 10, 25, tzinfo=UTC)


def _accept_everything(gradebook: Gradebook, sis_ids: dict[str, str]) -> None:
    """The ledger after a first sync in which the SIS allocated `sis_ids` (ours -> its)."""
    plan = plan_sync(district_config(NO_SIS), GP_FALL, connect=connector(gradebook.path),
                     as_of=AS_OF)
    with connect(gradebook.path) as conn:
        write_outcomes(conn, [Outcome(DISTRICT, a.entity, a.sourced_id, GP_FALL,
                                      a.line_item_sourced_id, a.payload_hash, SENT, 201, 1,
                                      None, SENT_AT, "first") for a in plan.actions])
        for ours, theirs in sis_ids.items():
            conn.execute("UPDATE passback.sync_ledger SET sis_sourced_id = ? "
                         "WHERE sourced_id = ?", [theirs, ours])


def _read_back(gradebook: Gradebook, sis_ids: dict[str, str]) -> None:
    """The nightly read: the SIS holds every record as sent, under its own sourcedIds."""
    ids = ", ".join(f"('{ours}', '{theirs}')" for ours, theirs in sis_ids.items())
    with connect(gradebook.path) as conn:
        conn.execute(f"CREATE TEMP TABLE ids (ours VARCHAR, theirs VARCHAR); "
                     f"INSERT INTO ids VALUES {ids}")
        conn.execute("""
            INSERT INTO sis.line_items BY NAME
            SELECT district, coalesce(i.theirs, sourced_id) AS sourced_id, status,
                   $modified AS date_last_modified, title, description, assign_date,
                   due_date, class_sourced_id, category_sourced_id, grading_period_sourced_id,
                   result_value_min, result_value_max
            FROM passback.line_items LEFT JOIN ids i ON i.ours = sourced_id""",
                     {"modified": SENT_AT - timedelta(hours=1)})
        conn.execute("""
            INSERT INTO sis.results BY NAME
            SELECT r.district, coalesce(i.theirs, r.sourced_id) AS sourced_id, r.status,
                   $modified AS date_last_modified,
                   coalesce(li.theirs, r.line_item_sourced_id) AS line_item_sourced_id,
                   r.student_sourced_id, r.class_sourced_id, r.score_status, r.score,
                   r.score_date
            FROM passback.results r LEFT JOIN ids i ON i.ours = r.sourced_id
            LEFT JOIN ids li ON li.ours = r.line_item_sourced_id""",
                     {"modified": SENT_AT - timedelta(hours=1)})
        conn.execute("INSERT OR REPLACE INTO passback.sis_reads VALUES "
                     "(?, 'line_items', ?, ?, 'full', 0, 0), (?, 'results', ?, ?, 'full', 0, 0)",
                     [DISTRICT, SENT_AT + timedelta(hours=1), SENT_AT + timedelta(hours=1)] * 2)


SIS_IDS = {"li-0000": "sis-li-a", "res-li-0000-0": "sis-res-a"}


def test_the_sis_own_sourced_ids_address_each_action_and_the_reconciliation(
        gradebook: Gradebook) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    _accept_everything(gradebook, SIS_IDS)
    _read_back(gradebook, SIS_IDS)
    # Held under the SIS's ids, as sent: nothing to do.
    assert plan_sync(district_config(NO_SIS), GP_FALL, connect=connector(gradebook.path),
                     as_of=AS_OF).counts()["unchanged"] == 8
    gradebook.set_score("res-li-0000-0", 9.5)
    gradebook.set_score("res-li-0000-2", 9.5)
    gradebook.save()
    with connect(gradebook.path) as conn:  # and the SIS lost one of ours
        conn.execute("DELETE FROM sis.results WHERE sourced_id = 'res-li-0001-1'")

    plan = plan_sync(district_config(NO_SIS), GP_FALL, connect=connector(gradebook.path),
                     as_of=AS_OF)

    found = {a.sourced_id: a for a in plan.actions}
    assert set(found) == {"res-li-0000-0", "res-li-0000-2", "res-li-0001-1"}
    assert (found["res-li-0000-0"].action, found["res-li-0000-0"].sis_sourced_id,
            found["res-li-0000-0"].sis_line_item_sourced_id) == ("update", "sis-res-a",
                                                                 "sis-li-a")
    assert found["res-li-0000-0"].changes == (("score", "0.0", "9.5"),)
    assert (found["res-li-0000-2"].sis_sourced_id,
            found["res-li-0000-2"].sis_line_item_sourced_id) == (None, "sis-li-a")
    assert found["res-li-0001-1"].action == "restore"
    assert found["res-li-0001-1"].record["lineItem"]["sourcedId"] == "li-0001"


def test_a_stored_plan_is_counted_in_sql_and_read_in_batches(
        gradebook: Gradebook, monkeypatch: pytest.MonkeyPatch) -> None:
    gradebook.add_line_items(3)
    gradebook.save()
    _accept_everything(gradebook, {})
    gradebook.add_line_items(2)  # new: created with their results
    gradebook.set_score("res-li-0001-1", 7.5)
    gradebook.line_item("li-0002")["status"] = "archived"  # breaks the spec: results blocked
    gradebook.save()
    config = district_config(NO_SIS)
    monkeypatch.setattr("pipeline.sink.plan.READ_ROWS", 2)

    plan = store_plan(connector(gradebook.path), config, GP_FALL, "run-1", dry_run=True,
                      as_of=AS_OF)

    with connect(gradebook.path) as conn:
        stored = conn.execute("SELECT action, count(*) FROM passback.sync_plan "
                              "WHERE run_id = 'run-1' GROUP BY action").fetchall()
        runs = conn.execute("SELECT \"create\", \"update\", unchanged, invalid, blocked "
                            "FROM passback.sync_runs WHERE run_id = 'run-1'").fetchall()
    counts = plan.counts()
    assert dict(stored) == {a: n for a, n in counts.items() if n and a != "unchanged"}
    assert (counts["create"], counts["update"], counts["invalid"], counts["blocked"],
            counts["unchanged"]) == (2 + 6, 1, 1, 3, 2 + 5)
    assert runs == [(8, 1, 7, 1, 3)]
    # Read two rows at a time, in send order: line items by class, then results by class
    # and line item.
    line_items = [(a.record["class"]["sourcedId"], a.sourced_id)
                  for a in plan.writes("line_items", PUTS)]
    results = [(a.line_item_sourced_id, a.sourced_id) for a in plan.writes("results", PUTS)]
    assert sorted(line_items) == line_items and {li for _, li in line_items} == {
        "li-0003", "li-0004"}
    groups = [li for li, _ in itertools.groupby(li for li, _ in results)]
    assert len(groups) == len(set(groups))  # a line item's results come together
    assert all(ids == sorted(ids) for ids in (
        [r for li, r in results if li == one] for one in groups))
    assert len(results) == 1 + 6 and all(a.body for a in plan.writes("results", PUTS))
    # Its results may go at once: li-0001 is held as planned; new ones wait for their PUT.
    assert plan.held_line_items() == {"li-0001"}
    with connect(gradebook.path) as conn:  # the plan that writes nothing plans the same
        alone = plan_partition(conn, config, GP_FALL, as_of=AS_OF)
    assert alone.counts() == counts
    assert [(a.entity, a.sourced_id, a.action, a.reason) for a in alone.actions] == \
        [(a.entity, a.sourced_id, a.action, a.reason) for a in plan.select(ACTIONS)]
