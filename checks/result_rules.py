"""Result rules: whether one student's score becomes an SIS result.

Students appear by SIS sourcedId only, never by name. Columns are built by
`assets.transform.candidates` and `checks.transforms.apply_result_transforms`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from checks.catalog import Rule, everywhere, truthy


def _line_item_accepted(f: pd.DataFrame) -> pd.Series:
    return truthy(f["line_item_accepted"])


def _not_excluded(f: pd.DataFrame) -> pd.Series:
    return ~truthy(f["excluded"])


def _enrolled(f: pd.DataFrame) -> pd.Series:
    return truthy(f["enrolled"])


def _graded_or_zero(f: pd.DataFrame) -> pd.Series:
    return (f["status"] == "graded").fillna(False).astype(bool) | truthy(f["missing_is_zero"])


def _valid_score(f: pd.DataFrame) -> pd.Series:
    graded = (f["status"] == "graded").fillna(False).astype(bool)
    points = f["points_earned"].astype("float64").to_numpy(na_value=np.nan)
    usable = ~np.isnan(points) & (points >= 0) & np.isfinite(points)
    return ~graded | pd.Series(usable, index=f.index)


RESULT_RULES: tuple[Rule, ...] = (
    Rule(
        id="line_item_rejected", entity="result", effects=everywhere(),
        summary="its line item was refused (one row, whatever the line item's reasons)",
        message="The score of student {student_sourced_id} on '{title}' is not passed back "
                "because the assessment itself is not: see the assessment's own messages.",
        passes=_line_item_accepted, kind="follows",
    ),
    Rule(
        id="excluded_score", entity="result", effects=everywhere(),
        summary="the score is marked Excluded",
        message="The score of student {student_sourced_id} on '{title}' is marked Excluded "
                "in the Otus gradebook, so it is not passed back. Remove the Excluded mark in "
                "Otus if it should count.",
        passes=_not_excluded, sources=("001",),
        notes="Seed 000 says Infinite Campus receives no 'excluded' status; we follow the "
              "catalog and refuse the score under every profile, since sending it without "
              "the flag would make it count.",
    ),
    Rule(
        id="student_not_enrolled", entity="result", effects=everywhere(),
        summary="the student is not actively enrolled in the class in the SIS",
        message="Student {student_sourced_id} has a score on '{title}' but is not actively "
                "enrolled[ in class {class_title}] in the SIS. Check the student's class in Otus "
                "or ask your registrar.",
        passes=_enrolled, sources=("003",),
    ),
    Rule(
        id="not_graded", entity="result", effects=everywhere(),
        summary="the status is not `graded`, and the missing-is-zero transform does not apply",
        message="The work of student {student_sourced_id} on '{title}' is {status_label} in "
                "Otus, not graded. Grade it in Otus to pass the score back.",
        passes=_graded_or_zero, sources=("001",), kind="not_ready",
    ),
    Rule(
        id="invalid_score", entity="result", effects=everywhere(),
        summary="a graded score that is negative or not a number",
        message="The score of student {student_sourced_id} on '{title}' is graded but its "
                "points[ ({points_earned})] are missing or negative. Enter a score of 0 or more "
                "in Otus.",
        passes=_valid_score,
    ),
)
