"""One test per result rule, both ways, and the Skyward missing-is-zero transform."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.rules.helpers import World, run_rules

SCORE = "otus.scores"


def test_line_item_rejected_gives_one_row_per_score(world: World, db: Path) -> None:
    world.first("otus.assessments").update(include_in_final_grade=False, title="x" * 60,
                                           grading_method="standards")
    out = run_rules(world, db)
    assert len(out.rules()) == 2  # the line item's own reasons
    for student in ("s1", "s2"):
        assert out.rules(student=student) == {"line_item_rejected"}
    assert out.results.empty


def test_accepted_line_item_scores_pass(world: World, db: Path) -> None:
    out = run_rules(world, db)
    assert out.rules(student="s1") == set() and len(out.results) == 2
    assert set(out.results["score_status"]) == {"fully graded"}


def test_excluded_score(world: World, db: Path) -> None:
    world.first(SCORE)["excluded"] = True
    out = run_rules(world, db)
    assert out.rules(student="s1") == {"excluded_score"}
    assert out.rules(student="s2") == set()
    assert out.results["student_sourced_id"].tolist() == ["s2"]


@pytest.mark.parametrize("change", [{"status": "tobedeleted"}, {"role": "teacher"}])
def test_student_not_enrolled(world: World, db: Path, change: dict[str, str]) -> None:
    world.tables["sis.enrollments"][1].update(change)
    out = run_rules(world, db)
    assert out.rules(student="s2") == {"student_not_enrolled"}
    assert out.rules(student="s1") == set()
    message = out.message("student_not_enrolled")
    assert "s2" in message and "Algebra 1" in message


@pytest.mark.parametrize("status", ["submitted", "in_progress", "not_submitted"])
def test_not_graded(world: World, db: Path, status: str) -> None:
    world.first(SCORE).update(status=status, points_earned=None, graded_at=None)
    out = run_rules(world, db)
    assert out.rules(student="s1") == {"not_graded"}


@pytest.mark.parametrize("points", [-1.0, None, float("nan")])
def test_invalid_score(world: World, db: Path, points: float | None) -> None:
    world.first(SCORE)["points_earned"] = points
    assert run_rules(world, db).rules(student="s1") == {"invalid_score"}


@pytest.mark.parametrize("status", ["not_submitted", "in_progress"])
def test_skyward_missing_is_zero_after_due_date(db: Path, status: str) -> None:
    world = World(profile="skyward")
    world.first(SCORE).update(status=status, points_earned=None, graded_at=None)
    out = run_rules(world, db)  # as-of 2026-10-01, due 2026-09-08
    assert out.rules(student="s1") == set()
    zero = out.results[out.results["student_sourced_id"] == "s1"].iloc[0]
    assert zero["score"] == 0.0 and bool(zero["missing_is_zero"])
    assert zero["score_date"].date() == date(2026, 9, 8)


def test_skyward_missing_is_not_zero_before_due_date(db: Path) -> None:
    world = World(profile="skyward")
    world.first(SCORE).update(status="not_submitted", points_earned=None, graded_at=None)
    out = run_rules(world, db, as_of=date(2026, 9, 8))  # due date not yet passed
    assert out.rules(student="s1") == {"not_graded"}


def test_skyward_submitted_but_ungraded_is_not_zero(db: Path) -> None:
    world = World(profile="skyward")
    world.first(SCORE).update(status="submitted", points_earned=None, graded_at=None)
    assert run_rules(world, db).rules(student="s1") == {"not_graded"}


@pytest.mark.parametrize("profile", ["infinite_campus", "oneroster"])
def test_missing_is_zero_is_skyward_only(db: Path, profile: str) -> None:
    world = World(profile=profile)
    world.first(SCORE).update(status="not_submitted", points_earned=None, graded_at=None)
    assert run_rules(world, db).rules(student="s1") == {"not_graded"}


def test_statuses_are_never_passed_back(world: World, db: Path) -> None:
    world.first(SCORE).update(late=True, missing=True)
    out = run_rules(world, db)
    assert set(out.results["score_status"]) == {"fully graded"}
    assert "late" not in out.results.columns and "missing" not in out.results.columns
