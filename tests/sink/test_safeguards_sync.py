"""The mass-change safeguard inside `run_sync`, against the sandbox SIS over loopback HTTP: a
held sync stores its plan and sends nothing; a confirmed one sends the deletions."""

from __future__ import annotations

import pytest

from pipeline.sink.safeguards import MassChangeError
from pipeline.warehouse import connect
from tests.sink.helpers import GP_FALL, Gradebook, district_config, sync, writes
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # starts the sandbox SIS


def test_a_held_sync_stores_its_plan_and_sends_nothing(sandbox: SandboxSIS,
                                                       gradebook: Gradebook) -> None:
    gradebook.add_line_items(10)  # 10 line items + 30 results
    gradebook.save()
    config = district_config(sandbox, propagate_deletions=True)
    assert sync(gradebook, config).counters.sent == 40
    for sourced_id in ("li-0003", "li-0007"):
        gradebook.drop_line_item(sourced_id)
    gradebook.set_score("res-li-0000-0", 9.5)  # an update rides along: held with the rest
    gradebook.save()
    start = len(sandbox.request_log)

    with pytest.raises(MassChangeError, match=r"delete 8 .* of the 40 objects .*20\.0%"):
        sync(gradebook, config, run_id="held-run")

    assert writes(sandbox, start) == [], "a held sync sent something"
    assert sandbox.store.line_item("li-0003") is not None
    with connect(gradebook.path) as conn:
        stored = conn.execute(
            "SELECT run_id, action, count(*) FROM passback.sync_plan WHERE "
            "grading_period_sourced_id = ? GROUP BY ALL ORDER BY action", [GP_FALL]).fetchall()
    assert ("held-run", "delete", 8) in stored and ("held-run", "update", 1) in stored

    report = sync(gradebook, config, allow_mass_change=True)
    sent = writes(sandbox, start)
    assert sorted(m for m, _p, s in sent if s == 204) == ["DELETE"] * 8
    assert report.counters.deleted == 8 and report.counters.sent == 1
    assert sandbox.store.line_item("li-0003") is None
    assert sync(gradebook, config).requests == 0  # nothing held, nothing left to send
