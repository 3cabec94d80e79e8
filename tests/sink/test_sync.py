"""The sink against the sandbox over real HTTP: delta, idempotent, spec-exact payloads."""

from __future__ import annotations

import pytest

from pipeline.warehouse import connect
from tests.sink.helpers import (
    GP_FALL,
    GP_SPRING,
    SCHOOL,
    Gradebook,
    district_config,
    ledger,
    sync,
    writes,
)
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run


def test_first_sync_writes_everything_then_a_rerun_sends_nothing(
        sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(4)
    gradebook.save()
    config = district_config(sandbox)

    first = sync(gradebook, config)

    assert first.counters.sent == 4 + 12
    assert len(writes(sandbox)) == 16
    assert all(status in (200, 201, 204) for _, _, status in writes(sandbox))
    # Line items go first, so no result ever names a line item the SIS does not have yet.
    methods = [path.split("/")[-2] for _, path, _ in writes(sandbox)]
    assert methods == ["lineItems"] * 4 + ["results"] * 12
    stored = {li["sourcedId"]: li for li in sandbox.store.line_items()}
    assert set(stored) == {li["sourced_id"] for li in gradebook.line_items}
    assert stored["li-0000"]["school"] == SCHOOL and stored["li-0000"]["gradingPeriod"] == GP_FALL
    assert {r["sourcedId"] for r in sandbox.store.results()} == \
        {r["sourced_id"] for r in gradebook.results}
    assert set(state for state, _, _ in ledger(gradebook.path).values()) == {"sent"}

    before = len(sandbox.request_log)
    again = sync(gradebook, config)

    assert again.requests == 0 and again.counters.sent == 0
    assert len(sandbox.request_log) == before  # not even a token request
    assert again.planned["unchanged"] == 16


def test_k_changed_scores_send_exactly_k_result_puts(
        sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(3)
    gradebook.save()
    config = district_config(sandbox)
    sync(gradebook, config)
    changed = [r["sourced_id"] for r in gradebook.results[:3]]
    for sourced_id in changed:
        gradebook.set_score(sourced_id, 9.5)
    gradebook.save()
    start = len(sandbox.request_log)

    report = sync(gradebook, config)

    sent = writes(sandbox, start)
    assert sorted((m, p.rsplit("/", 1)[1]) for m, p, _ in sent) == \
        sorted(("PUT", s) for s in changed)
    assert report.counters.sent == 3 and report.planned["update"] == 3
    assert all(sandbox.store.result(s)["score"] == 9.5 for s in changed)


def test_a_changed_title_resends_only_its_line_item(
        sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    config = district_config(sandbox)
    sync(gradebook, config)
    gradebook.line_item("li-0001")["title"] = "Renamed"
    gradebook.save()
    start = len(sandbox.request_log)

    sync(gradebook, config)

    assert [p for _, p, _ in writes(sandbox, start)] == \
        ["/ims/oneroster/gradebook/v1p2/lineItems/li-0001"]
    assert sandbox.store.line_item("li-0001")["title"] == "Renamed"


def test_partitions_are_independent(sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(1, GP_FALL)
    gradebook.add_line_items(1, GP_SPRING)
    gradebook.save()
    config = district_config(sandbox)

    fall = sync(gradebook, config, GP_FALL)
    spring = sync(gradebook, config, GP_SPRING)

    assert fall.counters.sent == 4 and spring.counters.sent == 4
    assert {li["gradingPeriod"] for li in sandbox.store.line_items()} == {GP_FALL, GP_SPRING}
    # Each partition's run leaves the other's objects alone (nothing "removed" or re-sent).
    assert sync(gradebook, config, GP_FALL).requests == 0


def test_version_1_1_bodies(sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    config = district_config(sandbox, version="1.1", auth="oauth1")

    report = sync(gradebook, config)

    assert report.counters.sent == 2 + 6 and report.counters.refused == 0
    assert all(p.startswith("/ims/oneroster/v1p1/") for _, p, _ in writes(sandbox))
    sent = report.samples["create"][0]["lineItem"]
    assert "school" not in sent  # 1.1 line items have no school
    assert sent["gradingPeriod"]["href"].endswith("/ims/oneroster/v1p1/academicSessions/gp-fall")
    stored = sandbox.store.line_item("li-0000")
    assert stored["assignDate"] == "2026-10-01T17:00:00.000Z"  # noon in Chicago, in UTC


def test_plan_and_ledger_are_in_the_warehouse(sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(1)
    gradebook.save()
    sync(gradebook, district_config(sandbox), run_id="run-1")

    with connect(gradebook.path) as conn:
        plan = conn.execute("SELECT action, count(*) FROM passback.sync_plan "
                            "WHERE run_id = 'run-1' GROUP BY 1").fetchall()
        first_sent = conn.execute("SELECT count(*) FROM passback.sync_ledger WHERE "
                                  "first_sent_at IS NOT NULL AND attempts >= 1").fetchone()
    assert dict(plan) == {"create": 4}
    assert first_sent == (4,)
