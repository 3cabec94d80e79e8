"""Derived values: local dates at time-zone edges, start and due dates, sourcedIds."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from assets.transform.sourced_ids import digest_sql, sourced_id, uuid_from_digest_sql
from tests.rules.helpers import World, run_rules

ASSIGN = "otus.class_assignments"


def test_due_at_2330_local_on_the_last_day_of_a_period_stays_in_it(world: World, db: Path) -> None:
    # 2026-10-16 23:30 in Chicago (CDT, UTC-5) is already 2026-10-17 in UTC, a day in no period
    world.first(ASSIGN)["due_at"] = "2026-10-17T04:30:00Z"
    out = run_rules(world, db, gp="gp1", as_of=date(2026, 10, 20))
    assert out.rules() == set()
    assert out.line_items["due_date"].dt.date.tolist() == [date(2026, 10, 16)]
    assert out.line_items["grading_period_sourced_id"].tolist() == ["gp1"]


@pytest.mark.parametrize(("assigned_at", "rejected"), [
    # UTC date is the effective date, local (Chicago) date is the day before: rejected
    ("2026-08-17T03:00:00Z", True),
    # UTC date is the day after, local date is the effective date itself: passes
    ("2026-08-17T23:30:00Z", False),
])
def test_effective_date_compares_local_dates(db: Path, assigned_at: str, rejected: bool) -> None:
    world = World(profile="infinite_campus")
    world.first(ASSIGN).update(assigned_at=assigned_at, updated_at=assigned_at,
                               due_at="2026-09-08T15:00:00Z")
    assert run_rules(world, db).rules() == ({"before_effective_date"} if rejected else set())


def test_start_date_is_go_live_and_due_date_falls_back_to_a_week_later(world: World,
                                                                        db: Path) -> None:
    world.first(ASSIGN).update(go_live_at="2026-10-14T14:00:00Z", due_at=None)
    out = run_rules(world, db, gp="gp2", as_of=date(2026, 10, 30))
    row = out.line_items.iloc[0]
    assert row["assign_date"].date() == date(2026, 10, 14)
    assert row["due_date"].date() == date(2026, 10, 21)  # start + 7 days, in Q2
    assert row["grading_period_sourced_id"] == "gp2"


def test_start_date_is_assigned_at_without_go_live(world: World, db: Path) -> None:
    world.first(ASSIGN).update(due_at=None)  # assigned 2026-09-01
    out = run_rules(world, db)
    assert out.line_items["due_date"].dt.date.tolist() == [date(2026, 9, 8)]


def test_school_year_grading_periods_when_terms_do_not_relate(world: World, db: Path) -> None:
    for session in world.tables["sis.academic_sessions"][2:]:
        session["parent_sourced_id"] = "sy"  # periods hang from the school year, not the term
    out = run_rules(world, db)
    assert out.accepted() and out.line_items["grading_period_sourced_id"].tolist() == ["gp1"]


@pytest.mark.slow  # over ~2 s: replays the partition
def test_sourced_ids_are_uuid5_and_stable_across_replays(world: World, db: Path) -> None:
    first = run_rules(world, db)
    again = run_rules(world, db)
    assert first.line_items["sourced_id"].tolist() == [sourced_id("demo", "line_item", "ca1")]
    assert sorted(again.results["sourced_id"]) == sorted(
        sourced_id("demo", "result", "ca1", s) for s in ("s1", "s2"))
    assert len(again.results) == 2 and len(again.line_items) == 1, "replay replaced, not added"


def test_sql_uuid5_matches_python_for_many_names() -> None:
    names = [f"d/result/{i}/ü{i * 7}" for i in range(500)]
    conn = duckdb.connect()
    conn.register("names", duckdb.sql("SELECT unnest($n) AS n", params={"n": names}).arrow())
    got = conn.sql(f"SELECT n, {uuid_from_digest_sql('h')} AS id FROM "
                   f"(SELECT n, {digest_sql('n')} AS h FROM names)").fetchall()
    assert {n: i for n, i in got} == {n: sourced_id(*n.split("/")) for n in names}
