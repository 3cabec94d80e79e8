"""Which ledger rows the plan removes: every branch of the planner's SQL anti-join, no SIS."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from pipeline.sink import plan_sync
from pipeline.warehouse import connect
from tests.sink.helpers import (
    AS_OF,
    DISTRICT,
    GP_FALL,
    GP_SPRING,
    Gradebook,
    connector,
    district_config,
)

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run

SENT_AT = datetime(2026, 10, 1, tzinfo=UTC)
# (district, entity, sourced_id, grading period, line item, state, first sent) of what the SIS
# was told earlier; the gradebook below accepts li-0000 (fall) and li-0001 (spring) with scores.
LEDGER = [
    (DISTRICT, "line_items", "li-0000", GP_FALL, None, "sent", SENT_AT),  # still accepted
    (DISTRICT, "line_items", "li-0001", GP_FALL, None, "sent", SENT_AT),  # moved to spring
    (DISTRICT, "line_items", "li-gone", GP_FALL, None, "sent", SENT_AT),
    (DISTRICT, "results", "res-gone-b", GP_FALL, "li-gone", "sent", SENT_AT),
    (DISTRICT, "results", "res-gone-a", GP_FALL, "li-gone", "rejected", SENT_AT),  # sent once
    (DISTRICT, "results", "res-deleted", GP_FALL, "li-gone", "deleted", SENT_AT),
    (DISTRICT, "results", "res-never-sent", GP_FALL, "li-gone", "failed", None),
    (DISTRICT, "results", "res-spring-gone", GP_SPRING, "li-old", "sent", SENT_AT),
    # A line item's ledger row is not kept alive by a *result* with the same sourcedId.
    (DISTRICT, "line_items", "res-li-0000-0", GP_FALL, None, "sent", SENT_AT),
    ("otherdist", "results", "res-other", GP_FALL, "li-x", "sent", SENT_AT),
]
REMOVED = [("results", "res-gone-a", "li-gone"), ("results", "res-gone-b", "li-gone"),
           ("line_items", "li-gone", None), ("line_items", "res-li-0000-0", None)]


@pytest.fixture
def ledgered(gradebook: Gradebook) -> Gradebook:
    """A gradebook with one line item per period and the ledger above."""
    gradebook.add_line_items(1, GP_FALL)
    gradebook.add_line_items(1, GP_SPRING)
    gradebook.save()
    with connect(gradebook.path) as conn:
        conn.executemany(
            "INSERT INTO passback.sync_ledger (district, entity, sourced_id, "
            "grading_period_sourced_id, line_item_sourced_id, payload_hash, state, attempts, "
            "first_sent_at) VALUES (?, ?, ?, ?, ?, 'h-' || ?, ?, 1, ?)",
            [row[:5] + (row[2],) + row[5:] for row in LEDGER])
    return gradebook


@pytest.mark.parametrize(("options", "action"), [
    ({}, "stopped"), ({"propagate_deletions": True}, "delete"),
    ({"propagate_deletions": True, "closed_grading_periods": {"listed": [GP_FALL]}}, "frozen")])
def test_removals_are_what_the_district_no_longer_accepts_results_first(
        ledgered: Gradebook, options: dict, action: str) -> None:
    sis = SimpleNamespace(url="https://sis.invalid", token_url="https://sis.invalid/token")
    plan = plan_sync(district_config(sis, **options), GP_FALL,
                     connect=connector(ledgered.path), as_of=AS_OF)

    removals = [a for a in plan.actions if a.payload_hash and a.payload_hash.startswith("h-")]
    assert [(a.entity, a.sourced_id, a.line_item_sourced_id) for a in removals] == REMOVED
    assert {a.action for a in removals} == {action}
    assert all(a.payload_hash == f"h-{a.sourced_id}" and a.grading_period_sourced_id == GP_FALL
               and a.record is None for a in removals)
    # The partition's own rows come first, unaffected by the removals.
    assert [a.sourced_id for a in plan.actions[:4]] == \
        ["li-0000", "res-li-0000-0", "res-li-0000-2", "res-li-0000-4"]
