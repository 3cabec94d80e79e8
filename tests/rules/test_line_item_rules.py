"""One test per line-item rule, both ways, and per profile where the profiles differ."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rules.helpers import World, run_rules

ASSIGN = "otus.class_assignments"
ASSESS = "otus.assessments"


def test_the_base_district_passes(world: World, db: Path) -> None:
    out = run_rules(world, db)
    assert out.accepted() and out.rejections.empty
    assert len(out.results) == 2


@pytest.mark.parametrize("table", [ASSIGN, ASSESS])
def test_removed_from_otus(world: World, db: Path, table: str) -> None:
    world.first(table)["deleted_at"] = "2026-09-20T12:00:00Z"
    out = run_rules(world, db)
    assert out.rules() == {"removed_from_otus"} and not out.accepted()


def test_standards_based(world: World, db: Path) -> None:
    world.first(ASSESS)["grading_method"] = "standards"
    out = run_rules(world, db)
    assert out.rules() == {"standards_based"} and not out.accepted()


@pytest.mark.parametrize("points", [None, 0.0, -5.0])
def test_no_points_possible(world: World, db: Path, points: float | None) -> None:
    world.first(ASSESS)["points_possible"] = points
    out = run_rules(world, db)
    assert out.rules() == {"no_points_possible"}


def test_standards_without_points_is_only_standards_based(world: World, db: Path) -> None:
    world.first(ASSESS).update(grading_method="standards", points_possible=None)
    assert run_rules(world, db).rules() == {"standards_based"}


def test_fractional_points_rejected_by_skyward(db: Path) -> None:
    world = World(profile="skyward")
    world.first(ASSESS)["points_possible"] = 10.5
    out = run_rules(world, db)
    assert out.rules() == {"fractional_points"} and out.severity("fractional_points") == {"reject"}
    assert not out.accepted()


def test_fractional_points_warned_and_floored_by_infinite_campus(db: Path) -> None:
    world = World(profile="infinite_campus")
    world.first(ASSESS)["points_possible"] = 10.5
    out = run_rules(world, db)
    assert out.severity("fractional_points") == {"warn"}
    assert out.accepted(), "a warning does not block"
    assert out.line_items["result_value_max"].tolist() == [10.0]
    message = out.message("fractional_points")
    assert "10.5" in message and "sent as 10." in message


@pytest.mark.parametrize("profile", ["skyward", "infinite_campus", "oneroster"])
def test_whole_points_and_fractional_score_pass(db: Path, profile: str) -> None:
    world = World(profile=profile)
    world.first("otus.scores")["points_earned"] = 8.5  # 8.5/10 passes
    out = run_rules(world, db)
    assert out.rejections.empty and out.results["score"].tolist() == [8.5, 9.5]


@pytest.mark.parametrize(("profile", "length", "rejected"), [
    ("skyward", 50, True), ("skyward", 49, False),
    ("infinite_campus", 80, False), ("oneroster", 80, False),
])
def test_name_too_long(db: Path, profile: str, length: int, rejected: bool) -> None:
    world = World(profile=profile)
    world.first(ASSESS)["title"] = "x" * length
    out = run_rules(world, db)
    assert out.rules() == ({"name_too_long"} if rejected else set())
    if rejected:
        assert f"has {length} characters" in out.message("name_too_long")


def test_not_in_final_grade(world: World, db: Path) -> None:
    world.first(ASSESS)["include_in_final_grade"] = False
    assert run_rules(world, db).rules() == {"not_in_final_grade"}


def test_unmapped_category(world: World, db: Path) -> None:
    world.categories["Test"] = None
    out = run_rules(world, db)
    assert out.rules() == {"unmapped_category"}
    assert "type Test" in out.message("unmapped_category")


def test_inactive_category(world: World, db: Path) -> None:
    world.first("sis.categories")["status"] = "tobedeleted"
    assert run_rules(world, db).rules() == {"inactive_category"}


def test_inactive_category_not_checked_when_sis_has_no_categories(world: World, db: Path) -> None:
    world.tables["sis.categories"] = []  # e.g. Infinite Campus over OneRoster 1.1
    out = run_rules(world, db)
    assert out.rules() == set() and out.accepted()


def test_assigner_not_in_sis(world: World, db: Path) -> None:
    world.first("otus.users")["sis_sourced_id"] = None
    out = run_rules(world, db)
    assert out.rules() == {"assigner_not_in_sis"}
    assert "Ada Lovelace" in out.message("assigner_not_in_sis")


def test_teacher_not_in_group(world: World, db: Path) -> None:
    world.tables["otus.passback_group"] = []
    assert run_rules(world, db).rules() == {"teacher_not_in_group"}


@pytest.mark.parametrize("change", [{"status": "tobedeleted"}, {"sourced_id": "other"}])
def test_class_not_in_sis(world: World, db: Path, change: dict[str, str]) -> None:
    world.first("sis.classes").update(change)
    out = run_rules(world, db)
    assert "class_not_in_sis" in out.rules() and not out.accepted()


@pytest.mark.parametrize(("profile", "rejected"), [
    ("infinite_campus", True), ("oneroster", True), ("skyward", False)])
def test_before_effective_date_but_changed_after(db: Path, profile: str, rejected: bool) -> None:
    """Assigned before the effective date, changed after: only Skyward passes it back."""
    world = World(profile=profile)
    world.first(ASSIGN).update(assigned_at="2026-08-10T15:00:00Z",
                               updated_at="2026-09-01T15:00:00Z")
    world.first(ASSESS)["updated_at"] = "2026-08-10T15:00:00Z"
    assert run_rules(world, db).rules() == ({"before_effective_date"} if rejected else set())


@pytest.mark.parametrize("profile", ["infinite_campus", "skyward", "oneroster"])
def test_before_effective_date_untouched_since(db: Path, profile: str) -> None:
    world = World(profile=profile)
    world.first(ASSIGN).update(assigned_at="2026-08-10T15:00:00Z",
                               updated_at="2026-08-10T15:00:00Z")
    world.first(ASSESS)["updated_at"] = "2026-08-10T15:00:00Z"
    assert run_rules(world, db).rules() == {"before_effective_date"}


def test_no_grading_period_is_a_district_level_row(world: World, db: Path) -> None:
    world.first(ASSIGN)["due_at"] = "2026-10-17T15:00:00Z"  # a Saturday between Q1 and Q2
    out = run_rules(world, db)
    assert out.rules() == {"no_grading_period"}
    assert out.rejections["grading_period_sourced_id"].isna().all()
    assert set(out.rejections["rule"]) == {"no_grading_period", "line_item_rejected"}


def test_closed_grading_period_listed(db: Path) -> None:
    world = World(closed=("gp1",))
    out = run_rules(world, db)
    assert out.rules() == {"closed_grading_period"}
    assert "Q1" in out.message("closed_grading_period")


def test_closed_grading_period_from_sis_window(world: World, db: Path) -> None:
    world.tables["sis.academic_sessions"][2]["grading_window_open"] = False
    assert run_rules(world, db).rules() == {"closed_grading_period"}


def test_closed_grading_period_by_policy(db: Path) -> None:
    world = World(close_days_after_end=3)
    world.first(ASSIGN).update(assigned_at="2026-10-12T15:00:00Z",
                               due_at="2026-10-20T15:00:00Z")  # straddles Q1 into Q2
    from datetime import date
    assert run_rules(world, db, gp="gp2", as_of=date(2026, 10, 19)).rules() == set()
    later = run_rules(world, db.with_name("later.duckdb"), gp="gp2", as_of=date(2026, 10, 20))
    assert later.rules() == {"closed_grading_period"}


def test_straddling_a_closed_period_is_rejected_in_the_due_dates_period(db: Path) -> None:
    world = World(closed=("gp1",))
    world.first(ASSIGN).update(assigned_at="2026-10-12T15:00:00Z",
                               due_at="2026-10-20T15:00:00Z")
    out = run_rules(world, db, gp="gp2")
    assert out.rules() == {"closed_grading_period"}
    assert set(out.rejections["grading_period_sourced_id"]) == {"gp2"}


@pytest.mark.parametrize(("profile", "rejected"), [
    ("infinite_campus", True), ("skyward", False), ("oneroster", False)])
def test_outside_term(db: Path, profile: str, rejected: bool) -> None:
    world = World(profile=profile)
    world.tables["sis.academic_sessions"][1]["end_date"] = "2026-12-01"  # term ends early
    world.first(ASSIGN)["due_at"] = "2026-12-10T15:00:00Z"  # still in Q2
    out = run_rules(world, db, gp="gp2")
    assert out.rules() == ({"outside_term"} if rejected else set())
    assert out.accepted() is not rejected
