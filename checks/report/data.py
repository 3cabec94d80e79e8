"""What the quality report shows, computed in DuckDB from the passback tables of one scope: a
district's grading period, or the district's rows that belong to no grading period.

Every rejection row gets the *kind* of its rule from the catalog (`Rule.kind`: fix, follows,
not_ready, sis_refused; a warning is a notice), and every record (a line item, or one
student's score) one *category*: the kind of its weightiest row, in the order of CATEGORIES.
A score whose line item is refused therefore counts once, as following from it, whatever else
is wrong with it; the headline counts records by category.

The records go into a temporary table once (`report_records`, their names apart in
`report_assignments`; no messages), every count and list is a query over them, and the CSVs
join them back to passback.rejections as DuckDB writes them (`checks.report.files`), so
nothing the size of the rejections table becomes Python objects and its messages are read
once. The SQL is in `checks.report.queries`. Students
appear by SIS sourcedId only; teachers by name, since a person has to act on the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from checks.asset_checks import rate_changes
from checks.evaluate import rule_by_id
from checks.report.queries import (
    CATEGORIES,
    DISTRICT_LEVEL,
    DISTRICT_LEVEL_SQL,
    DRIFT_SQL,
    HEADLINE_SQL,
    KINDS_TABLE,
    NOT_READY_SQL,
    PAGE_ROW_BUDGET,
    SECTION_ROWS,
    TEACHER_ROWS_MAX,
    TEACHER_ROWS_MIN,
    TEACHERS_SQL,
    TOTALS_SQL,
    Scope,
    by_rule_sql,
    kinds_values,
    prepare_sql,
    sis_refusals_sql,
    teacher_items_sql,
)

__all__ = ["CATEGORIES", "DISTRICT_LEVEL", "ReportData", "Scope", "Teacher", "load_report_data",
           "prepare"]


@dataclass
class Teacher:
    """One teacher's section: counts of every category, and the first rows of their list."""

    teacher_user_id: str | None
    teacher_name: str
    counts: dict[str, int]
    items: list[dict[str, object]]  # the first rows of the teacher's list (see PAGE_ROW_BUDGET)
    not_ready: list[dict[str, object]]  # per assessment: scores not graded yet

    @property
    def to_fix(self) -> int:
        """Records the teacher is asked to change (their own, and what the SIS refused)."""
        return self.counts["fix_line_items"] + self.counts["fix_results"] + \
            self.counts["sis_refused"]

    @property
    def listed(self) -> int:
        """Action rows the page shows (the rest are in the CSVs)."""
        return len(self.items)

    @property
    def action_rows(self) -> int:
        """Action rows in all (the teacher's file and rejections.csv list every one)."""
        return self.counts["action_rows"]


@dataclass
class ReportData:
    """Counts, lists and trend of one report scope."""

    scope: Scope
    accepted_line_items: int
    accepted_results: int
    headline: dict[tuple[str, str], int]  # (category, entity) -> records
    by_rule: pd.DataFrame
    teachers: list[Teacher]
    sis_refusals: pd.DataFrame
    drift: pd.DataFrame
    drift_rows: int
    # Refused records without a grading period, by entity (reported once, elsewhere).
    district_level_counts: dict[str, int]
    rejection_rows: int

    @property
    def district(self) -> str:
        """The district's id."""
        return self.scope.district

    @property
    def grading_period_title(self) -> str:
        """The grading period's title, or what the district-level report covers."""
        return self.scope.title

    def count(self, category: str, entity: str | None = None) -> int:
        """Records of a category (of one entity, or both)."""
        return sum(n for (c, e), n in self.headline.items()
                   if c == category and entity in (None, e))

    @property
    def district_level(self) -> int:
        """Refused records without a grading period (in the district-level report)."""
        return sum(self.district_level_counts.values())

    @property
    def total_rejects(self) -> int:
        """Refused records (every category but notices)."""
        return sum(n for (c, _e), n in self.headline.items() if c != "notice")

    def drift_by_teacher_and_class(self) -> list[tuple[str, str, pd.DataFrame]]:
        """(teacher, class, rows) for every teacher and class with drift, in report order."""
        if self.drift.empty:
            return []
        return [(str(teacher), str(klass), rows) for (teacher, klass), rows in
                self.drift.groupby(["teacher_name", "class_title"], sort=False, dropna=False)]


def _frame(conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> pd.DataFrame:
    needed = {k: v for k, v in params.items() if f"${k}" in sql}
    return conn.sql(sql, params=needed).to_arrow_table().to_pandas()


def _by_rule(conn: duckdb.DuckDBPyConnection, scope: Scope) -> pd.DataFrame:
    by_rule = _frame(conn, by_rule_sql(scope), scope.params())
    if scope.district_level:
        by_rule["change"] = float("nan")
    else:
        trend = rate_changes(conn, scope.district, str(scope.grading_period)).rename(
            columns={"failures": "now", "previous_failures": "previous"})
        by_rule = by_rule.merge(trend[["entity", "rule", "now", "previous"]],
                                on=["entity", "rule"], how="left")
        by_rule["change"] = by_rule["now"] - by_rule["previous"]
    by_rule["summary"] = [rule_by_id(r).summary if _known(r) else "" for r in by_rule["rule"]]
    return by_rule


def _known(rule_id: str) -> bool:
    try:
        rule_by_id(rule_id)
    except KeyError:
        return False
    return True


def _teachers(conn: duckdb.DuckDBPyConnection, scope: Scope) -> list[Teacher]:
    counts = _dicts(conn, TEACHERS_SQL, {})
    cap = max(TEACHER_ROWS_MIN, min(TEACHER_ROWS_MAX, PAGE_ROW_BUDGET // max(len(counts), 1)))
    by_items = _grouped(_dicts(conn, teacher_items_sql(scope), scope.params() | {"cap": cap}))
    by_waiting = _grouped(_dicts(conn, NOT_READY_SQL, {"cap": cap}))
    names = ("fix_line_items", "fix_results", "sis_refused", "follows", "not_ready", "notices")
    teachers = []
    for row in counts:
        key = str(row["teacher_key"])
        listed = by_items.get(key, [])
        tally = {name: int(row[name]) for name in names}  # type: ignore[call-overload]
        tally["action_rows"] = int(listed[0]["of"]) if listed else 0  # type: ignore[call-overload]
        teachers.append(Teacher(
            teacher_user_id=key or None, teacher_name=str(row["teacher_name"]), counts=tally,
            items=listed, not_ready=by_waiting.get(key, [])))
    return teachers


def _dicts(conn: duckdb.DuckDBPyConnection, sql: str,
           params: dict[str, object]) -> list[dict[str, object]]:
    """Rows as plain dicts, straight from DuckDB (the page iterates thousands of them)."""
    needed = {k: v for k, v in params.items() if f"${k}" in sql}
    cursor = conn.execute(sql, needed)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _grouped(rows: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        out.setdefault(str(row["teacher_key"]), []).append(row)
    return out


def prepare(conn: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    """The catalog's kinds and the scope's records as temporary tables on `conn` (the CSVs
    read them too)."""
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {KINDS_TABLE} AS "
                 f"SELECT * FROM (VALUES {kinds_values()}) AS t(rule, kind, weight)")
    for statement in prepare_sql(scope):
        conn.execute(statement, {k: v for k, v in scope.params().items() if f"${k}" in statement})


def load_report_data(conn: duckdb.DuckDBPyConnection, district: str,
                     grading_period: str | None, *, title: str | None = None,
                     closed: bool = False, as_of: date | None = None) -> ReportData:
    """Everything the page needs, read in one short connection (leaves the scope's temporary
    tables on it for `checks.report.files`)."""
    scope = Scope(district, grading_period, closed=closed, as_of=as_of,
                  title=title or _title(conn, district, grading_period))
    prepare(conn, scope)
    params = {"district": district, "gp": grading_period}
    totals = conn.execute(TOTALS_SQL, params).fetchall()[0]
    headline = {(c, e): int(n) for c, e, n in conn.sql(HEADLINE_SQL).fetchall()}
    drift, drift_rows = pd.DataFrame(), 0
    if not scope.district_level:
        drift = _frame(conn, f"{DRIFT_SQL} LIMIT {SECTION_ROWS}", params)
        drift_rows = int(conn.execute(f"SELECT count(*) FROM ({DRIFT_SQL})",
                                      params).fetchall()[0][0])
    by_rule = _by_rule(conn, scope)
    return ReportData(
        scope=scope, accepted_line_items=int(totals[0]), accepted_results=int(totals[1]),
        headline=headline, by_rule=by_rule, teachers=_teachers(conn, scope),
        sis_refusals=_frame(conn, sis_refusals_sql(scope), scope.params()),
        drift=drift, drift_rows=drift_rows,
        district_level_counts={} if scope.district_level else {
            e: int(n) for e, n in conn.execute(DISTRICT_LEVEL_SQL, {"district": district})
            .fetchall()},
        rejection_rows=int(by_rule["rows"].sum()),
    )


def _title(conn: duckdb.DuckDBPyConnection, district: str, grading_period: str | None) -> str:
    if grading_period is None:
        return "Not in any grading period"
    found = conn.execute("SELECT any_value(title) FROM sis.academic_sessions WHERE district = ? "
                         "AND sourced_id = ?", [district, grading_period]).fetchall()
    return (found[0][0] if found and found[0][0] else None) or grading_period
