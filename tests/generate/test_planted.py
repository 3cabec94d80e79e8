"""Every rule in the catalog has planted records, and planted records really break it."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tests.generate.helpers import read_csv, rule_ids
from tooling.generate import GeneratedDistrict

ZONE = "America/Chicago"
EFFECTIVE = date(2026, 8, 17)
Q1 = (date(2026, 8, 17), date(2026, 10, 16))
QUARTERS = [Q1, (date(2026, 10, 19), date(2026, 12, 18)), (date(2027, 1, 4), date(2027, 3, 5)),
            (date(2027, 3, 15), date(2027, 5, 14))]


def _local(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.replace("", None), utc=True, format="ISO8601").dt.tz_convert(ZONE)


@pytest.fixture(scope="module")
def items(campus: GeneratedDistrict) -> pd.DataFrame:
    """Class assignments with their assessment, local times and derived dates."""
    ca = read_csv(campus.otus_dir / "class_assignments.csv")
    assessments = read_csv(campus.otus_dir / "assessments.csv")
    frame = ca.merge(assessments, on="assessment_id", suffixes=("", "_assessment"))
    for column in ("assigned_at", "go_live_at", "due_at", "updated_at"):
        frame[column + "_local"] = _local(frame[column])
    start = frame["go_live_at_local"].fillna(frame["assigned_at_local"]).dt.date
    frame["start_date"] = start
    frame["due_date"] = frame["due_at_local"].dt.date.where(
        frame["due_at"] != "", start + pd.Timedelta(days=7))
    return frame.set_index("assignment_id")


@pytest.fixture(scope="module")
def planted(campus: GeneratedDistrict) -> pd.DataFrame:
    return read_csv(campus.planted)


def _rows(planted: pd.DataFrame, rule: str, case: str | None = None) -> pd.DataFrame:
    rows = planted[planted["rule_id"] == rule]
    return rows if case is None else rows[rows["case_name"] == case]


def test_every_catalog_rule_has_planted_records(planted: pd.DataFrame,
                                                skyward: GeneratedDistrict) -> None:
    line_item_rules, result_rules = rule_ids("Line-item rules"), rule_ids("Result rules")
    assert len(line_item_rules) >= 15 and "outside_term" in line_item_rules
    assert len(result_rules) >= 5 and "invalid_score" in result_rules
    sky = read_csv(skyward.planted)
    for rule in line_item_rules + result_rules:
        assert (planted["rule_id"] == rule).any(), f"campus: nothing planted for {rule}"
        assert (sky["rule_id"] == rule).any(), f"skyward: nothing planted for {rule}"
        # Somewhere a planted record is refused (or warned about) under this rule.
        refused = pd.concat([planted, sky]).query("rule_id == @rule and expect != 'pass'")
        assert not refused.empty, rule


def test_shares_are_a_few_percent(planted: pd.DataFrame, items: pd.DataFrame) -> None:
    open_items = items[items["due_date"] > Q1[1]]
    rows = planted[(planted["entity"] == "line_item")
                   & planted["assignment_id"].isin(open_items.index)]
    share = rows.groupby("rule_id")["assignment_id"].nunique() / len(open_items)
    for rule in ("standards_based", "not_in_final_grade", "unmapped_category"):
        assert 0.005 < share[rule] < 0.10, (rule, share[rule])


def test_titles_around_the_50_character_limit(planted: pd.DataFrame, items: pd.DataFrame) -> None:
    lengths = items["title"].str.len()
    cases = (("title_50_plus", lambda n: n > 50), ("title_exactly_50", lambda n: n == 50),
             ("title_exactly_49", lambda n: n == 49))
    for case, check in cases:
        ids = _rows(planted, "name_too_long", case)["assignment_id"]
        assert len(ids) and lengths[ids].map(check).all(), case
    assert not (lengths[~items.index.isin(_rows(planted, "name_too_long")["assignment_id"])]
                >= 49).any()


def test_before_effective_date_cases(planted: pd.DataFrame, items: pd.DataFrame) -> None:
    rows = _rows(planted, "before_effective_date")
    assert (items.loc[rows["assignment_id"], "assigned_at_local"].dt.date < EFFECTIVE).all()
    split = items.loc[_rows(planted, "before_effective_date", "assigned_utc_date_differs")
                      ["assignment_id"]]
    assert len(split)
    utc_dates = pd.to_datetime(split["assigned_at"], utc=True, format="ISO8601").dt.date
    assert (utc_dates == EFFECTIVE).all() and split["assigned_at"].str.endswith("Z").all()
    after = items.loc[_rows(planted, "before_effective_date", "assigned_before_updated_after")
                      ["assignment_id"]]
    assert len(after) and (after["updated_at_local"].dt.date >= EFFECTIVE).all()
    plain = items.loc[_rows(planted, "before_effective_date", "assigned_before_effective")
                      ["assignment_id"]]
    assert (plain["updated_at_local"].dt.date < EFFECTIVE).all()


def test_grading_period_cases(planted: pd.DataFrame, items: pd.DataFrame) -> None:
    def in_quarter(day: date) -> bool:
        return any(start <= day <= end for start, end in QUARTERS)

    gaps = items.loc[_rows(planted, "no_grading_period", "due_in_gap")["assignment_id"]]
    summer = items.loc[_rows(planted, "no_grading_period", "due_in_summer")["assignment_id"]]
    assert len(gaps) and not gaps["due_date"].map(in_quarter).any()
    assert len(summer) and (summer["due_date"].map(lambda d: d.month) == 6).all()
    straddle = items.loc[_rows(planted, "closed_grading_period", "straddles_closed_end")
                         ["assignment_id"]]
    assert len(straddle) and (straddle["start_date"] <= Q1[1]).all()
    assert (straddle["due_date"] > Q1[1]).all()
    closed = items.loc[_rows(planted, "closed_grading_period", "in_closed_period")["assignment_id"]]
    assert (closed["due_date"] <= Q1[1]).all()
    late = items.loc[_rows(planted, "no_grading_period", "due_2330_last_day_closed")
                     ["assignment_id"]]
    assert len(late) and (late["due_at_local"].dt.strftime("%H:%M") == "23:30").all()
    assert (late["due_date"] == Q1[1]).all()
    assert (pd.to_datetime(late["due_at"], utc=True, format="ISO8601").dt.date > Q1[1]).all()


def test_outside_term_is_after_a_semester_end(planted: pd.DataFrame, items: pd.DataFrame,
                                              campus: GeneratedDistrict) -> None:
    classes = read_csv(campus.oneroster_dir / "classes.csv").set_index("sourcedId")
    rows = items.loc[_rows(planted, "outside_term", "due_after_term_end")["assignment_id"]]
    assert len(rows)
    terms = classes.loc[rows["class_sourced_id"], "termSourcedIds"]
    assert (terms == "sy2026-s1").all()  # as of November only first-semester classes qualify
    assert (rows["due_date"] > QUARTERS[1][1]).all()


def test_who_assigned_and_where(planted: pd.DataFrame, items: pd.DataFrame,
                                campus: GeneratedDistrict) -> None:
    users = read_csv(campus.otus_dir / "users.csv").set_index("user_id")
    group = set(read_csv(campus.otus_dir / "passback_group.csv")["user_id"])
    classes = set(read_csv(campus.oneroster_dir / "classes.csv")["sourcedId"])
    by = items.loc[_rows(planted, "assigner_not_in_sis")["assignment_id"], "assigned_by"]
    assert len(by) and (users.loc[by, "sis_sourced_id"] == "").all()
    assert (users.loc[by, "role"] == "administrator").all()
    by = items.loc[_rows(planted, "teacher_not_in_group")["assignment_id"], "assigned_by"]
    assert len(by) and not set(by) & group
    where = items.loc[_rows(planted, "class_not_in_sis")["assignment_id"], "class_sourced_id"]
    assert len(where) and not set(where) & classes
    unlisted = items[~items.index.isin(planted["assignment_id"])]
    assert set(unlisted["assigned_by"]) <= group and set(unlisted["class_sourced_id"]) <= classes


def test_assessment_property_cases(planted: pd.DataFrame, items: pd.DataFrame) -> None:
    def pick(rule: str) -> pd.DataFrame:
        rows = _rows(planted, rule)
        return items.loc[rows.loc[rows["entity"] == "line_item", "assignment_id"]]

    assert (pick("standards_based")["grading_method"] == "standards").all()
    points = pd.to_numeric(pick("no_points_possible")["points_possible"].replace("", None))
    assert (points.isna() | (points <= 0)).all() and points.isna().any()
    fractional = pd.to_numeric(pick("fractional_points")["points_possible"])
    assert len(fractional) and (fractional % 1 != 0).all()
    assert (pick("not_in_final_grade")["include_in_final_grade"] == "false").all()
    assert set(pick("unmapped_category")["assessment_type"]) >= {"Participation"}
    assert len(set(pick("unmapped_category")["assessment_type"]) - {"Participation"}) > 0
    assert set(pick("inactive_category")["assessment_type"]) == {"Lab"}
    removed = pick("removed_from_otus")
    assert ((removed["deleted_at"] != "") | (removed["deleted_at_assessment"] != "")).all()


def test_result_cases(planted: pd.DataFrame, campus: GeneratedDistrict) -> None:
    scores = read_csv(campus.otus_dir / "scores.csv").set_index(
        ["assignment_id", "student_sourced_id"])
    enrolled = read_csv(campus.oneroster_dir / "enrollments.csv")
    enrolled = set(zip(enrolled["classSourcedId"], enrolled["userSourcedId"], strict=True))

    def pick(rule: str, expect: str = "reject") -> pd.DataFrame:
        rows = planted[(planted["rule_id"] == rule) & (planted["expect"] == expect)]
        keys = list(zip(rows["assignment_id"], rows["student_sourced_id"], strict=True))
        assert keys, rule
        return scores.loc[keys].assign(class_sourced_id=rows["class_sourced_id"].to_numpy())

    assert (pick("excluded_score")["excluded"] == "true").all()
    invalid = pick("invalid_score")
    points = pd.to_numeric(invalid["points_earned"].replace("", None))
    assert (invalid["status"] == "graded").all() and (points.isna() | (points < 0)).all()
    assert points.isna().any() and (points < 0).any()
    assert set(pick("not_graded")["status"]) == {"not_submitted", "in_progress", "submitted"}
    dropped = pick("student_not_enrolled")
    assert not {(c, s) for (_, s), c in zip(dropped.index, dropped["class_sourced_id"],
                                            strict=True)} & enrolled
    earned = pick("fractional_points", "pass")["points_earned"].astype(float)
    assert (earned == 8.5).all()
    assert len(pick("invalid_score", "pass"))  # extra credit: above points_possible, allowed


def test_skyward_missing_is_zero_goes_both_ways(skyward: GeneratedDistrict) -> None:
    rows = read_csv(skyward.planted).query("rule_id == 'not_graded'")
    passes = set(rows.query("expect == 'pass'")["case_name"])
    refused = set(rows.query("expect == 'reject'")["case_name"])
    assert passes == {"not_submitted_due_passed", "in_progress_due_passed"}
    assert {"submitted_due_passed", "not_submitted_not_due", "in_progress_not_due"} <= refused
    sky = read_csv(skyward.planted)
    assert set(sky.query("rule_id == 'name_too_long' and expect == 'reject'")["case_name"]) == {
        "title_50_plus", "title_exactly_50"}
    updated_after = sky.query("case_name == 'assigned_before_updated_after'")
    assert len(updated_after) and (updated_after["expect"] == "pass").all()


def test_unlisted_line_items_pass_every_rule(planted: pd.DataFrame, items: pd.DataFrame,
                                             campus: GeneratedDistrict) -> None:
    """Re-derived here from the files: a class assignment not refused in planted is clean."""
    refused = planted.query("entity == 'line_item' and expect == 'reject'")["assignment_id"]
    clean = items[~items.index.isin(refused)]
    assert 0.1 < len(clean) / len(items) < 0.6  # most of the rest sits in closed Q1
    users = read_csv(campus.otus_dir / "users.csv").set_index("user_id")
    group = set(read_csv(campus.otus_dir / "passback_group.csv")["user_id"])
    classes = read_csv(campus.oneroster_dir / "classes.csv").set_index("sourcedId")
    categories = read_csv(campus.oneroster_dir / "categories.csv").set_index("sourcedId")
    mapping = {"Test": "cat-tests", "Quiz": "cat-quizzes", "Homework": "cat-homework",
               "Classwork": "cat-classwork", "Project": "cat-projects", "Essay": "cat-writing",
               "Presentation": "cat-projects", "Performance Task": "cat-projects",
               "Benchmark": "cat-tests", "Exit Ticket": "cat-classwork"}
    assert (clean["deleted_at"] == "").all() and (clean["deleted_at_assessment"] == "").all()
    assert (clean["grading_method"] == "points").all()
    points = clean["points_possible"].astype(float)
    assert (points > 0).all()
    # Campus sends fractional points floored (a warning) and has no title limit.
    warned = set(planted.query("rule_id == 'fractional_points' and expect == 'warn'")
                 ["assignment_id"])
    assert set(clean.index[points % 1 != 0]) == warned & set(clean.index)
    long_titles = set(planted.query("rule_id == 'name_too_long'")["assignment_id"])
    assert set(clean.index[clean["title"].str.len() >= 49]) <= long_titles
    assert (clean["include_in_final_grade"] == "true").all()
    assert clean["assessment_type"].isin(list(mapping)).all()
    assert (categories.loc[clean["assessment_type"].map(mapping), "status"] == "active").all()
    assert (users.loc[clean["assigned_by"], "sis_sourced_id"] != "").all()
    assert clean["assigned_by"].isin(group).all()
    assert clean["class_sourced_id"].isin(classes.index).all()
    assert (clean["assigned_at_local"].dt.date >= EFFECTIVE).all()
    terms = classes.loc[clean["class_sourced_id"], "termSourcedIds"].to_numpy()
    for due, start, term in zip(clean["due_date"], clean["start_date"], terms, strict=True):
        quarters = QUARTERS[:2] if term == "sy2026-s1" else QUARTERS
        assert any(s <= due <= e for s, e in quarters), (due, term)
        assert start > Q1[1] and due > Q1[1], "nothing clean touches the closed Q1"
