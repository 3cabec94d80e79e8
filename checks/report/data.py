"""What the quality report shows, computed in DuckDB from the passback tables of one scope: a
district's grading period, or the district's rows that belong to no grading period.

Every rejection row gets the *kind* of its rule from the catalog (`Rule.kind`: fix, follows,
not_ready, sis_refused; a warning is a notice), and every record (a line item, or one
student's score) one *category*: the kind of its weightiest row, in the order of CATEGORIES.
A score whose line item is refused therefore counts once, as following from it, whatever else
is wrong with it; the headline counts records by category.

The records go into a temporary table once (`report_records`: no messages), every count and
list is a query over it, and the CSVs join it back to passback.rejections as DuckDB writes
them (`checks.report.files`), so nothing the size of the rejections table becomes Python
objects and its messages are read once. Students appear
by SIS sourcedId only; teachers by name, since a person has to act on the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb
import pandas as pd

from checks.asset_checks import rate_changes
from checks.evaluate import CATALOG, rule_by_id
from checks.sis_rules import SIS_RULES

# Weightiest first: a record's category is the first of these among its rows' kinds.
CATEGORIES = ("follows", "sis_refused", "fix", "not_ready", "notice")
# Rows the page lists per teacher (the CSVs have them all): the budget is shared by the
# teachers, within these bounds, so a large district's page stays a few megabytes.
PAGE_ROW_BUDGET = 6000
TEACHER_ROWS_MIN, TEACHER_ROWS_MAX = 5, 60
SECTION_ROWS = 200  # SIS refusals and SIS edits listed on the page
DISTRICT_LEVEL = "_district"  # the folder of the district-level report (no key starts with _)


@dataclass(frozen=True)
class Scope:
    """One report: a grading period of a district, or its rows without a grading period."""

    district: str
    grading_period: str | None  # None: the district-level rows
    title: str = ""
    closed: bool = False
    as_of: date | None = None

    @property
    def district_level(self) -> bool:
        """The report of the rows that belong to no grading period."""
        return self.grading_period is None

    def predicate(self, alias: str = "") -> str:
        """SQL selecting this scope's rows (`$district`, `$gp` parameters)."""
        column = f"{alias}.grading_period_sourced_id" if alias else "grading_period_sourced_id"
        period = f"{column} IS NULL" if self.district_level else f"{column} = $gp"
        district = f"{alias}.district" if alias else "district"
        return f"{district} = $district AND {period}"

    def params(self) -> dict[str, object]:
        """The parameters of `predicate`."""
        return {"district": self.district} | ({} if self.district_level
                                              else {"gp": self.grading_period})


def _kinds_values() -> str:
    rows = [(rule.id, rule.kind) for rule in (*CATALOG, *SIS_RULES)]
    return ", ".join(f"('{rule}', '{kind}')" for rule, kind in rows)


# A row's kind: its rule's, from the catalog (an unknown id, e.g. a retired rule: fix); a
# warning is a notice whatever the rule.
KIND_SQL = "CASE WHEN r.severity = 'warn' THEN 'notice' ELSE coalesce(k.kind, 'fix') END"
_WEIGHT_SQL = "CASE {column} " + " ".join(
    f"WHEN '{name}' THEN {len(CATEGORIES) - i}" for i, name in enumerate(CATEGORIES)) + " END"
_CATEGORY_SQL = "CASE {column} " + " ".join(
    f"WHEN {len(CATEGORIES) - i} THEN '{name}'" for i, name in enumerate(CATEGORIES)) + " END"
KINDS_TABLE = "report_kinds"


def _records_sql(scope: Scope) -> str:
    # One row per record (no messages: those stay in passback.rejections and are read once,
    # by the CSVs). SIS-refusal rows carry no teacher or class title: their line item and the
    # rosters supply them.
    return f"""
CREATE OR REPLACE TEMP TABLE report_records AS
WITH grouped AS (
    SELECT r.entity, r.assignment_id, coalesce(r.student_sourced_id, '') AS student_key,
           any_value(r.student_sourced_id) AS student_sourced_id,
           max({_WEIGHT_SQL.format(column=KIND_SQL)}) AS weight,
           any_value(r.class_sourced_id) AS class_sourced_id,
           any_value(r.class_title) AS class_title, any_value(r.teacher_user_id) AS teacher_user_id,
           any_value(r.teacher_name) AS teacher_name, any_value(r.title) AS title
    FROM passback.rejections r LEFT JOIN {KINDS_TABLE} k ON k.rule = r.rule
    WHERE {scope.predicate("r")}
    GROUP BY r.entity, r.assignment_id, coalesce(r.student_sourced_id, '')
),
owners AS (
    SELECT DISTINCT ON (assignment_id) assignment_id, teacher_user_id, title
    FROM passback.line_items
    WHERE district = $district
      AND assignment_id IN (SELECT assignment_id FROM grouped WHERE teacher_user_id IS NULL)
)
SELECT g.entity, g.assignment_id, g.student_key, g.student_sourced_id, g.class_sourced_id,
       {_CATEGORY_SQL.format(column="g.weight")} AS category,
       coalesce(g.teacher_user_id, o.teacher_user_id) AS teacher_user_id,
       coalesce(g.teacher_name, nullif(trim(concat_ws(' ', u.given_name, u.family_name)), ''),
                g.teacher_user_id, o.teacher_user_id, 'Teacher not on record') AS teacher_name,
       coalesce(g.class_title, c.title, g.class_sourced_id, 'no class') AS class_title,
       coalesce(g.title, o.title, g.assignment_id) AS title
FROM grouped g
LEFT JOIN owners o ON g.teacher_user_id IS NULL AND o.assignment_id = g.assignment_id
LEFT JOIN otus.users u
  ON u.district = $district AND u.user_id = coalesce(g.teacher_user_id, o.teacher_user_id)
LEFT JOIN sis.classes c ON c.district = $district AND c.sourced_id = g.class_sourced_id
"""


def rows_sql(scope: Scope, where: str = "TRUE") -> str:
    """The scope's rejection rows with their kind and their record's category, teacher and
    titles (parameters: `scope.params()`); `where` filters over those columns."""
    return f"""
SELECT * FROM (
    SELECT c.category, {KIND_SQL} AS kind, r.rule, r.severity, r.entity, c.teacher_user_id,
           c.teacher_name, r.class_sourced_id, c.class_title, r.assignment_id, c.title,
           r.student_sourced_id, r.message
    FROM passback.rejections r
    LEFT JOIN {KINDS_TABLE} k ON k.rule = r.rule
    JOIN report_records c ON c.entity = r.entity AND c.assignment_id = r.assignment_id
                         AND c.student_key = coalesce(r.student_sourced_id, '')
    WHERE {scope.predicate("r")}
) WHERE {where}
"""


_HEADLINE_SQL = """
SELECT category, entity, count(*) AS records FROM report_records GROUP BY ALL
"""


def _by_rule_sql(scope: Scope) -> str:
    return f"""
SELECT r.entity, r.rule, r.severity, any_value({KIND_SQL}) AS kind, count(*) AS rows,
       count(*) FILTER (WHERE r.severity = 'reject') AS rejects,
       count(*) FILTER (WHERE r.severity = 'warn') AS warnings
FROM passback.rejections r LEFT JOIN {KINDS_TABLE} k ON k.rule = r.rule
WHERE {scope.predicate("r")}
GROUP BY ALL ORDER BY rows DESC, r.rule
"""


_BY_TEACHER_SQL = """
SELECT coalesce(teacher_user_id, '') AS teacher_key, teacher_user_id, teacher_name,
       count(*) FILTER (WHERE category = 'fix' AND entity = 'line_item') AS fix_line_items,
       count(*) FILTER (WHERE category = 'fix' AND entity = 'result') AS fix_results,
       count(*) FILTER (WHERE category = 'sis_refused') AS sis_refused,
       count(*) FILTER (WHERE category = 'follows') AS follows,
       count(*) FILTER (WHERE category = 'not_ready') AS not_ready,
       count(*) FILTER (WHERE category = 'notice') AS notices
FROM report_records GROUP BY ALL
ORDER BY fix_line_items + fix_results + sis_refused DESC, teacher_name, teacher_user_id
"""

_WAITING_SQL = """
SELECT assignment_id, count(*) AS waiting FROM report_records
WHERE category = 'follows' GROUP BY ALL
"""


def action_rows_sql(scope: Scope) -> str:
    """What teachers are asked to do: the rows that put their record in its category (a
    record's other problems wait), not the scores that follow from a refused line item; each
    line item with the scores that wait on it."""
    return f"""
SELECT a.*, CASE WHEN a.entity = 'line_item' THEN coalesce(w.waiting, 0) END AS waiting,
       CASE a.category WHEN 'fix' THEN 1 WHEN 'sis_refused' THEN 2 WHEN 'not_ready' THEN 3
                       ELSE 4 END AS category_order
FROM ({rows_sql(scope, "kind = category AND category <> 'follows'")}) a
LEFT JOIN ({_WAITING_SQL}) w ON w.assignment_id = a.assignment_id
"""


def _teacher_items_sql(scope: Scope) -> str:
    return f"""
SELECT * FROM (
    SELECT coalesce(teacher_user_id, '') AS teacher_key, category, entity, class_title, title,
           student_sourced_id, rule, message, waiting,
           row_number() OVER (PARTITION BY teacher_user_id
                              ORDER BY category_order, class_title, title, entity,
                                       student_sourced_id, rule) AS n,
           count(*) OVER (PARTITION BY teacher_user_id) AS of
    FROM ({action_rows_sql(scope)}) WHERE category <> 'not_ready'
) WHERE n <= $cap ORDER BY teacher_key, n
"""


_NOT_READY_SQL = """
SELECT * FROM (
    SELECT *, row_number() OVER (PARTITION BY teacher_key ORDER BY class_title, title) AS n
    FROM (SELECT coalesce(teacher_user_id, '') AS teacher_key, class_title, title,
                 count(*) AS scores
          FROM report_records WHERE category = 'not_ready' GROUP BY ALL)
) WHERE n <= $cap ORDER BY teacher_key, n
"""


def _sis_refusals_sql(scope: Scope) -> str:
    return f"""
SELECT teacher_name, class_title, title, entity, student_sourced_id, message, waiting
FROM ({action_rows_sql(scope)}) WHERE category = 'sis_refused'
ORDER BY teacher_name, class_title, title, entity, student_sourced_id
LIMIT {SECTION_ROWS}
"""


_TOTALS_SQL = """
SELECT (SELECT count(*) FROM passback.line_items WHERE district = $district AND
        grading_period_sourced_id = $gp),
       (SELECT count(*) FROM passback.results WHERE district = $district AND
        grading_period_sourced_id = $gp)
"""
# Refused records without a grading period, by entity: a period's report points to them.
_DISTRICT_LEVEL_SQL = """
SELECT entity, count(DISTINCT (assignment_id, coalesce(student_sourced_id, '')))
FROM passback.rejections
WHERE district = $district AND grading_period_sourced_id IS NULL AND severity = 'reject'
GROUP BY entity
"""

# Edits made in the SIS to what Passback wrote (pipeline/sink/drift.py), still standing when
# the sink last ran, by teacher and class. The report shows the SIS as of that sync.
DRIFT_SQL = """
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
WHERE d.district = $district AND d.grading_period_sourced_id = $gp
  AND d.resolved_at IS NULL
ORDER BY teacher_name, class_title, title, d.student_sourced_id, d.field
"""


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
    notes: list[str] = field(default_factory=list)

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
    by_rule = _frame(conn, _by_rule_sql(scope), scope.params())
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
    counts = _dicts(conn, _BY_TEACHER_SQL, {})
    cap = max(TEACHER_ROWS_MIN, min(TEACHER_ROWS_MAX, PAGE_ROW_BUDGET // max(len(counts), 1)))
    by_items = _grouped(_dicts(conn, _teacher_items_sql(scope), scope.params() | {"cap": cap}))
    by_waiting = _grouped(_dicts(conn, _NOT_READY_SQL, {"cap": cap}))
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
                 f"SELECT * FROM (VALUES {_kinds_values()}) AS t(rule, kind)")
    conn.execute(_records_sql(scope), scope.params())


def load_report_data(conn: duckdb.DuckDBPyConnection, district: str,
                     grading_period: str | None, *, title: str | None = None,
                     closed: bool = False, as_of: date | None = None) -> ReportData:
    """Everything the page needs, read in one short connection (leaves the scope's temporary
    tables on it for `checks.report.files`)."""
    scope = Scope(district, grading_period, closed=closed, as_of=as_of,
                  title=title or _title(conn, district, grading_period))
    prepare(conn, scope)
    params = {"district": district, "gp": grading_period}
    totals = conn.execute(_TOTALS_SQL, params).fetchall()[0]
    headline = {(c, e): int(n) for c, e, n in conn.sql(_HEADLINE_SQL).fetchall()}
    drift, drift_rows = pd.DataFrame(), 0
    if not scope.district_level:
        drift = _frame(conn, f"{DRIFT_SQL} LIMIT {SECTION_ROWS}", params)
        drift_rows = int(conn.execute(f"SELECT count(*) FROM ({DRIFT_SQL})",
                                      params).fetchall()[0][0])
    by_rule = _by_rule(conn, scope)
    return ReportData(
        scope=scope, accepted_line_items=int(totals[0]), accepted_results=int(totals[1]),
        headline=headline, by_rule=by_rule, teachers=_teachers(conn, scope),
        sis_refusals=_frame(conn, _sis_refusals_sql(scope), scope.params()),
        drift=drift, drift_rows=drift_rows,
        district_level_counts={} if scope.district_level else {
            e: int(n) for e, n in conn.execute(_DISTRICT_LEVEL_SQL, {"district": district})
            .fetchall()},
        rejection_rows=int(by_rule["rows"].sum()),
    )


def _title(conn: duckdb.DuckDBPyConnection, district: str, grading_period: str | None) -> str:
    if grading_period is None:
        return "Not in any grading period"
    found = conn.execute("SELECT any_value(title) FROM sis.academic_sessions WHERE district = ? "
                         "AND sourced_id = ?", [district, grading_period]).fetchall()
    return (found[0][0] if found and found[0][0] else None) or grading_period
