"""The mass-change safeguard's decision (a pure function over counts) and its memory in a real
DuckDB warehouse: held over the district's share or after an emptied export entity, confirmed
once, and not held again for what was already let through. No SIS: nothing here sends."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from types import SimpleNamespace

import duckdb
import pytest

from pipeline.config import DistrictConfig
from pipeline.sink import plan_sync
from pipeline.sink.safeguards import MassChange, MassChangeError, assess, guard_mass_change
from pipeline.warehouse import connect
from tests.sink.helpers import AS_OF, DISTRICT, GP_FALL, Gradebook, connector, district_config

NO_SIS = SimpleNamespace(url="https://sis.invalid", token_url="https://sis.invalid/token")
SENT_AT = datetime(2026, 10, 1, tzinfo=UTC)


def sent_everything(gradebook: Gradebook) -> int:
    """Ledger rows saying the SIS holds every accepted object; returns how many."""
    rows = [("line_items", li["sourced_id"], None) for li in gradebook.line_items]
    rows += [("results", r["sourced_id"], r["line_item_sourced_id"]) for r in gradebook.results]
    with connect(gradebook.path) as conn:
        conn.executemany(
            "INSERT INTO passback.sync_ledger (district, entity, sourced_id, "
            "grading_period_sourced_id, line_item_sourced_id, payload_hash, state, attempts, "
            "first_sent_at) VALUES (?, ?, ?, ?, ?, 'h', 'sent', 1, ?)",
            [(DISTRICT, entity, sid, GP_FALL, li, SENT_AT) for entity, sid, li in rows])
    return len(rows)


def emptied(gradebook: Gradebook, entity: str, rows_now: int, rows_before: int) -> None:
    """What the Otus extract records when a load leaves `entity` with `rows_now` live rows."""
    with connect(gradebook.path) as conn:
        conn.execute("INSERT OR REPLACE INTO passback.otus_load_counts VALUES "
                     "(?, ?, ?, ?, ?, ?)", [DISTRICT, entity, rows_now, SENT_AT, rows_before,
                                            SENT_AT])


def guard(gradebook: Gradebook, config: DistrictConfig, *, allowed: bool = False,
          run_id: str = "run-1") -> MassChange:
    """Plan the fall partition and put it through the safeguard."""
    plan = plan_sync(config, GP_FALL, connect=connector(gradebook.path), as_of=AS_OF)
    return guard_mass_change(connector(gradebook.path), plan, config, run_id=run_id,
                             allowed=allowed, log=lambda line: None)


def synced_gradebook(gradebook: Gradebook) -> Gradebook:
    """Ten line items with three results each (40 objects), all held by the SIS."""
    gradebook.add_line_items(10)
    gradebook.save()
    assert sent_everything(gradebook) == 40
    return gradebook


def test_assess_holds_above_the_share_and_not_at_it() -> None:
    assert not assess(deletes=4, stopped=0, held=40, limit=0.10).held_back  # exactly 10%
    held = assess(deletes=3, stopped=2, held=40, limit=0.10)
    assert held.held_back and held.share == pytest.approx(0.125)
    assert held.reasons() == ["it would delete 3 and stop passing back 2 of the 40 objects the "
                              "SIS holds from Passback (12.5%, above the district's "
                              "passback.mass_change_share of 10%)"]
    assert not assess(0, 0, 0, 0.10).held_back  # a first sync holds nothing and removes nothing
    assert assess(0, 1366, 1366, 1.0).held_back is False  # a share of 1 allows everything


def test_assess_holds_after_an_emptied_entity_whatever_the_share() -> None:
    decision = assess(0, 1, 1000, 0.10, emptied=(("class_assignments", 1366),))
    assert decision.held_back and not decision.over_share
    assert "no live rows in class_assignments (an earlier one had 1,366)" in \
        "; ".join(decision.reasons())


@pytest.mark.parametrize("bad", [{"deletes": -1}, {"held": -5}, {"limit": 0}, {"limit": 1.5}])
def test_assess_refuses_impossible_inputs(bad: dict) -> None:
    with pytest.raises(ValueError, match="negative|mass_change_share"):
        assess(**({"deletes": 0, "stopped": 0, "held": 1, "limit": 0.1} | bad))


def test_deletions_above_the_share_are_held_with_the_reason(gradebook: Gradebook) -> None:
    synced = synced_gradebook(gradebook)
    config = district_config(NO_SIS, propagate_deletions=True)
    synced.drop_line_item("li-0000")
    synced.drop_line_item("li-0001")  # 2 line items + 6 results: 8 of 40
    synced.save()
    with pytest.raises(MassChangeError) as caught:
        guard(synced, config)
    message = str(caught.value)
    assert f"{DISTRICT} / {GP_FALL}" in message
    assert "delete 8 and stop passing back 0 of the 40 objects" in message
    assert "20.0%" in message and "mass_change_share of 10%" in message
    assert "--allow-mass-change" in message and "run-1" in message
    confirmed = guard(synced, config, allowed=True, run_id="run-2")
    assert confirmed.held_back and confirmed.removals == 8


def test_under_the_share_is_not_held(gradebook: Gradebook) -> None:
    synced = synced_gradebook(gradebook)
    synced.drop_line_item("li-0000")  # 4 of 40: exactly 10%
    synced.save()
    decision = guard(synced, district_config(NO_SIS, propagate_deletions=True))
    assert decision.removals == 4 and not decision.held_back


def test_the_share_is_the_districts_setting(gradebook: Gradebook) -> None:
    synced = synced_gradebook(gradebook)
    synced.drop_line_item("li-0000")
    synced.save()
    with pytest.raises(MassChangeError, match=r"10\.0%, above .* of 5%"):
        guard(synced, district_config(NO_SIS, mass_change_share=0.05))


def test_stops_once_confirmed_are_not_counted_again(gradebook: Gradebook) -> None:
    synced = synced_gradebook(gradebook)
    config = district_config(NO_SIS)  # deletions off: a removal stays `stopped` in every plan
    for sid in ("li-0000", "li-0001"):
        synced.drop_line_item(sid)
    synced.save()
    with pytest.raises(MassChangeError, match="stop passing back 8 of the 40"):
        guard(synced, config)
    guard(synced, config, allowed=True)
    assert guard(synced, config).removals == 0, "the confirmed stops are counted again"
    synced.drop_line_item("li-0002")
    synced.save()
    assert guard(synced, config).removals == 4  # only the new one, under the share
    for sid in ("li-0003", "li-0004"):
        synced.drop_line_item(sid)
    synced.save()
    with pytest.raises(MassChangeError, match="stop passing back 8 of the 40"):
        guard(synced, config)


def test_an_emptied_export_entity_is_held_until_confirmed(gradebook: Gradebook) -> None:
    synced = synced_gradebook(gradebook)
    config = district_config(NO_SIS, propagate_deletions=True)
    emptied(synced, "scores", rows_now=0, rows_before=30)
    with pytest.raises(MassChangeError, match=r"no live rows in scores \(an earlier one had 30\)"):
        guard(synced, config)  # held although this plan removes nothing (yet)
    guard(synced, config, allowed=True)
    assert not guard(synced, config).held_back, "a confirmed empty entity is held again"
    emptied(synced, "scores", rows_now=30, rows_before=30)  # the scores are back...
    assert not guard(synced, config).held_back
    emptied(synced, "scores", rows_now=0, rows_before=30)  # ...and gone again: held again
    with pytest.raises(MassChangeError, match="no live rows in scores"):
        guard(synced, config)


def test_a_closed_grading_period_is_never_held(gradebook: Gradebook) -> None:
    synced = synced_gradebook(gradebook)
    config = district_config(NO_SIS, propagate_deletions=True,
                             closed_grading_periods={"listed": [GP_FALL]})
    emptied(synced, "class_assignments", rows_now=0, rows_before=10)
    for sid in ("li-0000", "li-0001", "li-0002"):
        synced.drop_line_item(sid)
    synced.save()
    assert guard(synced, config).removals == 0  # frozen, not removed: nothing is sent


def test_the_check_runs_in_one_short_connection(gradebook: Gradebook) -> None:
    synced = synced_gradebook(gradebook)
    opened = []

    def counting() -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        opened.append(1)
        return connect(synced.path)

    config = district_config(NO_SIS)
    plan = plan_sync(config, GP_FALL, connect=connector(synced.path), as_of=AS_OF)
    guard_mass_change(counting, plan, config, run_id="r", log=lambda line: None)
    assert opened == [1]
