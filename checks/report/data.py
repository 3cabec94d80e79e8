"""What the quality report shows, read from the passback tables of one partition.

Students appear by SIS sourcedId only (the rejections table holds no student names);
teachers by name, since a person has to act on the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from checks.asset_checks import rate_changes
from checks.evaluate import rule_by_id

EXAMPLES_PER_RULE = 5

_REJECTIONS_SQL = """
SELECT grading_period_sourced_id, entity, assignment_id, class_sourced_id, class_title,
       student_sourced_id, teacher_user_id, teacher_name, title, rule, severity, message
FROM passback.rejections
WHERE district = $district
  AND (grading_period_sourced_id = $grading_period OR grading_period_sourced_id IS NULL)
ORDER BY rule, class_sourced_id, assignment_id, student_sourced_id
"""


@dataclass
class ReportData:
    """Counts, examples and trend for one district × grading period."""

    district: str
    grading_period_sourced_id: str
    grading_period_title: str
    accepted_line_items: int
    accepted_results: int
    by_rule: pd.DataFrame
    by_teacher: pd.DataFrame
    by_class: pd.DataFrame
    examples: dict[str, pd.DataFrame]
    rejections: pd.DataFrame
    district_level: int
    notes: list[str] = field(default_factory=list)

    @property
    def total_rejects(self) -> int:
        """Rejection rows with effect reject (warnings excluded)."""
        return int((self.rejections["severity"] == "reject").sum())


def _counts(rejections: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if rejections.empty:
        return pd.DataFrame(columns=[*keys, "rejects", "warnings", "records"])
    grouped = rejections.assign(
        rejects=rejections["severity"] == "reject", warnings=rejections["severity"] == "warn",
        record=rejections["assignment_id"] + "/" + rejections["student_sourced_id"].fillna(""),
    ).groupby(keys, dropna=False)
    out = grouped.agg(rejects=("rejects", "sum"), warnings=("warnings", "sum"),
                      records=("record", "nunique")).reset_index()
    return out.sort_values(["rejects", "warnings"], ascending=False, ignore_index=True)


def _by_rule(rejections: pd.DataFrame, changes: pd.DataFrame) -> pd.DataFrame:
    counts = _counts(rejections, ["entity", "rule", "severity"])
    trend = changes.rename(columns={"failures": "now", "previous_failures": "previous"})
    counts = counts.merge(trend[["entity", "rule", "now", "previous", "rate", "previous_rate"]],
                          on=["entity", "rule"], how="left")
    counts["change"] = counts["now"] - counts["previous"]
    counts["summary"] = [rule_by_id(r).summary for r in counts["rule"]]
    return counts


def load_report_data(conn: duckdb.DuckDBPyConnection, district: str,
                     grading_period: str) -> ReportData:
    """Everything the report needs, read in one short connection."""
    params = {"district": district, "grading_period": grading_period}
    rejections = conn.sql(_REJECTIONS_SQL, params=params).to_arrow_table().to_pandas()
    totals = conn.sql(
        "SELECT (SELECT count(*) FROM passback.line_items WHERE district = $district AND "
        "grading_period_sourced_id = $grading_period), (SELECT count(*) FROM passback.results "
        "WHERE district = $district AND grading_period_sourced_id = $grading_period), "
        "(SELECT any_value(title) FROM sis.academic_sessions WHERE district = $district AND "
        "sourced_id = $grading_period)",
        params=params).fetchall()[0]
    by_rule = _by_rule(rejections, rate_changes(conn, district, grading_period))
    examples = {rule: group.head(EXAMPLES_PER_RULE)
                for rule, group in rejections.groupby("rule", sort=False)}
    return ReportData(
        district=district, grading_period_sourced_id=grading_period,
        grading_period_title=totals[2] or grading_period,
        accepted_line_items=int(totals[0]), accepted_results=int(totals[1]),
        by_rule=by_rule,
        by_teacher=_counts(rejections, ["teacher_user_id", "teacher_name"]),
        by_class=_counts(rejections, ["class_sourced_id", "class_title"]),
        examples=examples, rejections=rejections,
        district_level=int(rejections["grading_period_sourced_id"].isna().sum()),
    )
