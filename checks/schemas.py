"""pandera schemas of what the rules stage hands the sink: the accepted line items and
results. A record that got past the rules but would break the sink's contract (a null
category, a negative score) fails the run here instead of at the SIS."""

from __future__ import annotations

import pandera.pandas as pa

_ID = {"nullable": False}

ACCEPTED_LINE_ITEMS = pa.DataFrameSchema(
    {
        "sourced_id": pa.Column(unique=True, **_ID),
        "assignment_id": pa.Column(unique=True, **_ID),
        "class_sourced_id": pa.Column(**_ID),
        "title": pa.Column(**_ID),
        "assign_date": pa.Column(**_ID),
        "due_date": pa.Column(**_ID),
        "category_sourced_id": pa.Column(**_ID),
        "grading_period_sourced_id": pa.Column(**_ID),
        "result_value_max": pa.Column(checks=pa.Check.gt(0), **_ID),
    },
    name="accepted_line_items",
    strict=False,
)

ACCEPTED_RESULTS = pa.DataFrameSchema(
    {
        "assignment_id": pa.Column(**_ID),
        "student_sourced_id": pa.Column(**_ID),
        "score": pa.Column(checks=pa.Check.ge(0), **_ID),
    },
    # one result per student and class assignment: a duplicate would write twice
    unique=["assignment_id", "student_sourced_id"],
    name="accepted_results",
    strict=False,
)
