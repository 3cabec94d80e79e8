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
# Edits made in the SIS to what Passback wrote (pipeline/sink/drift.py), still standing when
# the sink last ran, by teacher and class. The report shows the SIS as of that sync.
_DRIFT_SQL = """
SELECT d.teacher_user_id,
       coalesce(nullif(concat_ws(' ', u.given_name, u.family_name), ''), d.teacher_user_id,
                'Teacher not on record') AS teacher_name,
       d.class_sourced_id, coalesce(c.title, d.class_sourced_id) AS class_title,
       coalesce(li.title, d.line_item_sourced_id) AS title, d.entity, d.sourced_id,
       d.student_sourced_id, d.field, d.value_sent, d.value_in_sis, d.decision,
       CAST(d.first_seen_at AS DATE) AS first_seen
FROM passback.sync_drift d
LEFT JOIN otus.users u ON u.district = d.district AND u.user_id = d.teacher_user_id
LEFT JOIN sis.classes c ON c.district = d.district AND c.sourced_id = d.class_sourced_id
LEFT JOIN passback.line_items li
  ON li.district = d.district AND li.sourced_id = d.line_item_sourced_id
WHERE d.district = $district AND d.grading_period_sourced_id = $grading_period
  AND d.resolved_at IS NULL
ORDER BY teacher_name, class_title, title, d.student_sourced_id, d.field
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
    # Edits in the SIS to what Passback wrote (one row per object and field), see _DRIFT_SQL.
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

    def drift_by_teacher_and_class(self) -> list[tuple[str, str, pd.DataFrame]]:
        """(teacher, class, rows) for every teacher and class with drift, in report order."""
        if self.drift.empty:
            return []
        return [(str(teacher), str(klass), rows) for (teacher, klass), rows in
                self.drift.groupby(["teacher_name", "class_title"], sort=False, dropna=False)]

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
        drift=conn.sql(_DRIFT_SQL, params=params).to_arrow_table().to_pandas(),
    )
