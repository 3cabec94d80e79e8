"""Line-item rules: whether one Otus class assignment becomes an SIS line item.

Ids, effects and sources follow ../shared/passback-rules.md; where a seed says more than the
catalog, the rule's `notes` say so (and docs/rules.md repeats it). Columns used here are
built by `assets.transform.candidates` (see LINE_ITEM_COLUMNS there).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from checks.catalog import Rule, everywhere, truthy

# Skyward: "Assessment names must be less than 50 characters in length" (seed 001).
SKYWARD_TITLE_LIMIT = 50


def _not_removed(f: pd.DataFrame) -> pd.Series:
    return f["assessment_deleted_at"].isna() & f["assignment_deleted_at"].isna()


def _points_based(f: pd.DataFrame) -> pd.Series:
    return f["grading_method"] != "standards"


def _has_points_possible(f: pd.DataFrame) -> pd.Series:
    return (f["grading_method"] != "points") | truthy(f["points_possible"] > 0)


def _whole_points(f: pd.DataFrame) -> pd.Series:
    points = f["points_possible"].astype("float64")
    # A missing value is `no_points_possible`'s business, not this rule's.
    return pd.Series(np.isnan(points) | (points == np.floor(points)), index=f.index)


def _title_short_enough(f: pd.DataFrame) -> pd.Series:
    return f["title_length"] < SKYWARD_TITLE_LIMIT


def _in_final_grade(f: pd.DataFrame) -> pd.Series:
    return truthy(f["include_in_final_grade"])


def _category_mapped(f: pd.DataFrame) -> pd.Series:
    return f["category_sourced_id"].notna()


def _category_active(f: pd.DataFrame) -> pd.Series:
    # Only where the SIS exposes categories (OneRoster 1.1 Campus has none to compare with),
    # and an unmapped type is already `unmapped_category`.
    return (
        ~truthy(f["sis_has_categories"])
        | f["category_sourced_id"].isna()
        | truthy(f["category_active"])
    )


def _assigner_in_sis(f: pd.DataFrame) -> pd.Series:
    return f["assigner_sis_sourced_id"].notna()


def _assigner_in_group(f: pd.DataFrame) -> pd.Series:
    return truthy(f["assigner_in_group"])


def _class_active(f: pd.DataFrame) -> pd.Series:
    return truthy(f["class_active"])


def _on_or_after_effective_date(f: pd.DataFrame) -> pd.Series:
    effective = f.attrs["effective_date"]
    assigned = truthy(f["assigned_date"] >= effective)
    if f.attrs["profile"] == "skyward":
        # Skyward: "assigned or changed on or after the effective date" (seed 001).
        return assigned | truthy(f["updated_date"] >= effective)
    return assigned


def _has_grading_period(f: pd.DataFrame) -> pd.Series:
    return f["grading_period_sourced_id"].notna()


def _clear_of_closed_periods(f: pd.DataFrame) -> pd.Series:
    return f["closed_period_sourced_id"].isna()


def _due_within_term(f: pd.DataFrame) -> pd.Series:
    no_terms = f["term_start"].isna()
    inside = truthy((f["due_date"] >= f["term_start"]) & (f["due_date"] <= f["term_end"]))
    return no_terms | inside


LINE_ITEM_RULES: tuple[Rule, ...] = (
    Rule(
        id="removed_from_otus", entity="line_item", effects=everywhere(),
        summary="the assessment or the class assignment has `deleted_at`",
        message="'{title}' was removed from Otus[ for class {class_title}], so it is not passed "
                "back. If it should count, restore the assessment or its assignment in Otus.",
        passes=_not_removed, sources=("000",),
    ),
    Rule(
        id="standards_based", entity="line_item", effects=everywhere(),
        summary="`grading_method` is `standards`: only points-based assessments pass back",
        message="'{title}' is graded by standards; only points-based assessments pass back to "
                "the SIS gradebook. Use a points-based assessment in Otus if it should count.",
        passes=_points_based, sources=("001", "003"),
    ),
    Rule(
        id="no_points_possible", entity="line_item", effects=everywhere(),
        summary="a points assessment without a positive `points_possible`",
        message="'{title}' has no points possible[ (it shows {points_possible})]. Set the total "
                "points of the assessment in Otus to a positive number.",
        passes=_has_points_possible, sources=("001",),
    ),
    Rule(
        id="fractional_points", entity="line_item",
        effects={"skyward": "reject", "infinite_campus": "warn"},
        summary="`points_possible` is not a whole number (8/10.5 fails, 8.5/10 passes); "
                "Skyward refuses it, Infinite Campus rounds it down (sent with the floor)",
        message="'{title}' is worth {points_possible} points, which is not a whole number; "
                "Skyward accepts whole points only. Change the points possible in Otus to a "
                "whole number.",
        profile_messages={
            "infinite_campus": "'{title}' is worth {points_possible} points; Infinite Campus "
                               "rounds points possible down, so it is sent as "
                               "{result_value_max}. Change it in Otus to a whole number if "
                               "that is not what you want."},
        passes=_whole_points, sources=("001", "003"),
        notes="Seed 001 says 'only points-based grades that are whole numbers will pass back'; "
              "the catalog reads it as points possible only (a score of 8.5 passes), which we "
              "follow.",
    ),
    Rule(
        id="name_too_long", entity="line_item", effects={"skyward": "reject"},
        summary="the title has 50 characters or more (names must be less than 50)",
        message="'{title}' has {title_length} characters; Skyward accepts assessment names of "
                "fewer than 50. Shorten the name in Otus to 49 characters or fewer.",
        passes=_title_short_enough, sources=("001",),
    ),
    Rule(
        id="not_in_final_grade", entity="line_item", effects=everywhere(),
        summary="`include_in_final_grade` is false",
        message="'{title}' is not marked \"Include Score in Final Grade\" in Otus, so it is not "
                "passed back. Turn that setting on in Otus if it should count.",
        passes=_in_final_grade, sources=("000", "001"),
    ),
    Rule(
        id="unmapped_category", entity="line_item", effects=everywhere(),
        summary="the assessment type has no SIS category in the district mapping",
        message="'{title}' is of type {assessment_type}, which your district does not map to "
                "an SIS category. Use another assessment type in Otus, or ask your district "
                "administrator to map {assessment_type}.",
        passes=_category_mapped, sources=("001",),
    ),
    Rule(
        id="inactive_category", entity="line_item", effects=everywhere(),
        summary="the mapped category is not an active SIS category (applies where the SIS "
                "exposes categories)",
        message="'{title}' is of type {assessment_type}, which maps to SIS category "
                "{category_sourced_id}, and that category is not active in the SIS. Ask your "
                "district administrator to activate it or change the mapping.",
        passes=_category_active, sources=("001",),
        notes="Seed 001 also wants Skyward categories to be district-level; the roster's "
              "categories carry no school or grade, so that part is not checked here.",
    ),
    Rule(
        id="assigner_not_in_sis", entity="line_item", effects=everywhere(),
        summary="the user who assigned it has no `sis_sourced_id` (an Otus-only administrator)",
        message="'{title}' was assigned[ to class {class_title}] by [{teacher_name}, ]a user who "
                "is not in the SIS. Assign it to the class yourself (the class's teacher) in Otus.",
        passes=_assigner_in_sis, sources=("000", "001"),
    ),
    Rule(
        id="teacher_not_in_group", entity="line_item", effects=everywhere(),
        summary="the user who assigned it is not in the passback teacher group",
        message="'{title}' was assigned by [{teacher_name}, ]a teacher who is not in the Gradebook "
                "Passback Teacher Group in Otus. Ask your district administrator to add you.",
        passes=_assigner_in_group, sources=("000", "001"),
    ),
    Rule(
        id="class_not_in_sis", entity="line_item", effects=everywhere(),
        summary="`class_sourced_id` is not an active class in the SIS roster",
        message="'{title}' is assigned to class {class_sourced_id}, which is not an active "
                "class in the SIS. Assign it to your current SIS class in Otus.",
        passes=_class_active, sources=("003",),
    ),
    Rule(
        id="before_effective_date", entity="line_item",
        effects=everywhere(),
        summary="Infinite Campus, OneRoster: assigned (local date of `assigned_at`) before the "
                "effective date. Skyward: neither assigned nor changed (`updated_at`) on or "
                "after it",
        message="'{title}' was assigned[ on {assigned_date}], before passback started on "
                "{effective_date}. Assign it again in Otus to pass it back.",
        profile_messages={
            "skyward": "'{title}' was assigned[ on {assigned_date}] and last changed[ on "
                       "{updated_date}], both before passback started on {effective_date}. "
                       "Edit it or assign it again in Otus to pass it back."},
        passes=_on_or_after_effective_date, sources=("000", "001"),
    ),
    Rule(
        id="no_grading_period", entity="line_item", effects=everywhere(),
        summary="the due date falls in no grading period",
        message="'{title}' is due on {due_date}, which is in no grading period[ of class "
                "{class_title}]. Change the due date in Otus to a day inside a grading period.",
        passes=_has_grading_period, sources=("001",),
    ),
    Rule(
        id="closed_grading_period", entity="line_item", effects=everywhere(),
        summary="the span from start date to due date lies in, or straddles, a closed grading "
                "period",
        message="'{title}' runs from {assign_date} to {due_date}, which touches the closed "
                "grading period {closed_period_title}. Move the start and due dates in Otus "
                "into an open grading period.",
        passes=_clear_of_closed_periods, sources=("000", "001", "003"),
        notes="Seed 000 (not only 001, 003) is where Infinite Campus requires an open grading "
              "window.",
    ),
    Rule(
        id="outside_term", entity="line_item", effects={"infinite_campus": "reject"},
        summary="the due date is outside the class's term dates",
        message="'{title}' is due on {due_date}, outside the term dates[ of class {class_title}]"
                "[ ({term_start} to {term_end})]. Change the due date in Otus.",
        passes=_due_within_term, sources=("003",),
    ),
)
