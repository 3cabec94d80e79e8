"""Teacher messages read as sentences whatever is missing: no "(none)", no empty brackets, and
the catalog's pandas rendering and the SIS refusals' SQL rendering agree."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from checks.catalog import KIND_LABELS, render_messages
from checks.evaluate import CATALOG
from checks.sis_rules import SIS_RULES
from pipeline.sink.refusals import message_sql

TEMPLATES = [(rule.id, profile, rule.message_for(profile))
             for rule in CATALOG for profile in (None, *rule.profile_messages)] + \
            [(rule.id, None, rule.message) for rule in SIS_RULES]


def _frame(template_rule: str, values: object) -> pd.DataFrame:
    rule = next(r for r in (*CATALOG, *SIS_RULES) if r.id == template_rule)
    names = sorted(rule.placeholders()) if hasattr(rule, "placeholders") else \
        ["student_sourced_id", "title", "assignment_id", "sis_reason"]
    return pd.DataFrame({name: pd.Series([values], dtype="object") for name in names})


@pytest.mark.parametrize(("rule_id", "profile", "template"), TEMPLATES)
def test_a_message_reads_well_with_every_value_missing(rule_id: str, profile: str | None,
                                                       template: str) -> None:
    [text] = render_messages(template, _frame(rule_id, None)).tolist()
    for bad in ("(none)", "()", "  ", " ,", " .", "[", "]", "''"):
        assert bad not in text.replace("'unknown'", "x"), (rule_id, profile, text)


@pytest.mark.parametrize(("rule_id", "profile", "template"), TEMPLATES)
def test_sql_and_pandas_render_a_message_alike(rule_id: str, profile: str | None,
                                               template: str) -> None:
    for value in (None, "V"):
        frame = _frame(rule_id, value)
        expected = render_messages(template, frame).tolist()
        got = duckdb.sql(f"SELECT {message_sql(template)} FROM frame").fetchall()
        assert [g for (g,) in got] == expected, (rule_id, value)


def test_a_float_reads_without_a_trailing_zero() -> None:
    frame = pd.DataFrame({"title": ["Quiz"], "points_possible": [np.float64(10.0)]})
    [text] = render_messages("'{title}' has[ {points_possible}] points", frame).tolist()
    assert text == "'Quiz' has 10 points"


def test_every_rule_has_a_kind_the_report_names() -> None:
    kinds = {rule.id: rule.kind for rule in (*CATALOG, *SIS_RULES)}
    assert set(kinds.values()) <= set(KIND_LABELS)
    assert kinds["line_item_rejected"] == kinds["line_item_refused_by_sis"] == "follows"
    assert kinds["not_graded"] == "not_ready" and kinds["sis_rejected"] == "sis_refused"
    assert kinds["closed_grading_period"] == kinds["excluded_score"] == "fix"
