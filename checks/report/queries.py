"""The quality report's SQL, over passback.rejections and the temporary tables the report
puts on its connection (`report_kinds`, `report_assignments`, `report_records`): one scope's
records with their category, and every count and list the page and the CSVs need.

A row's *kind* is its rule's (`Rule.kind` in the catalog; a warning is a notice); a record's
*category* is the weightiest kind among its rows, in the order of CATEGORIES.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from checks.evaluate import CATALOG
from checks.sis_rules import SIS_RULES

# Weightiest first: a record's category is the first of these among its rows' kinds.
CATEGORIES = ("follows", "sis_refused", "fix", "not_ready", "notice")
# Rows the page lists per teacher (the CSVs have them all): the budget is shared by the
# teachers, within these bounds, so a large district's page stays a few megabytes.
PAGE_ROW_BUDGET = 6000
TEACHER_ROWS_MIN, TEACHER_ROWS_MAX = 3, 60
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


def kinds_values() -> str:
    """The catalog's (rule id, kind, weight) as SQL VALUES: the classification is data."""
    weights = {name: len(CATEGORIES) - i for i, name in enumerate(CATEGORIES)}
    rows = [(rule.id, rule.kind, weights[rule.kind]) for rule in (*CATALOG, *SIS_RULES)]
    return ", ".join(f"('{rule}', '{kind}', {weight})" for rule, kind, weight in rows)


# A row's kind: its rule's, from the catalog (an unknown id, e.g. a retired rule: fix); a
# warning is a notice whatever the rule. Its weight orders kinds as CATEGORIES does.
KIND_SQL = "CASE WHEN r.severity = 'warn' THEN 'notice' ELSE coalesce(k.kind, 'fix') END"
_NOTICE, _FIX = len(CATEGORIES) - CATEGORIES.index("notice"), len(CATEGORIES) - 2
WEIGHT_SQL = f"CASE WHEN r.severity = 'warn' THEN {_NOTICE} ELSE coalesce(k.weight, {_FIX}) END"
_CATEGORY_SQL = "CASE {column} " + " ".join(
    f"WHEN {len(CATEGORIES) - i} THEN '{name}'" for i, name in enumerate(CATEGORIES)) + " END"
KINDS_TABLE = "report_kinds"


def prepare_sql(scope: Scope) -> list[str]:
    """Statements that put the scope on the connection: `report_assignments` (names per
    assignment), `report_records` (one row per record with its weight and category; no
    messages: those stay in passback.rejections and are read once, by the CSVs) and the view
    `report_named` (records with their names).

    Grouping strings per record would cost three times grouping the weight alone, and a line
    item's rows and its scores' rows share their names. SIS refusal rows carry no teacher or
    class title: their line item and the rosters supply them."""
    assignments = f"""
CREATE OR REPLACE TEMP TABLE report_assignments AS
WITH assignments AS (
    SELECT r.assignment_id, any_value(r.class_sourced_id) AS class_sourced_id,
           any_value(r.class_title) AS class_title, any_value(r.teacher_user_id) AS teacher_user_id,
           any_value(r.teacher_name) AS teacher_name, any_value(r.title) AS title
    FROM passback.rejections r WHERE {scope.predicate("r")}
    GROUP BY r.assignment_id
),
owners AS (
    SELECT DISTINCT ON (assignment_id) assignment_id, teacher_user_id, title
    FROM passback.line_items
    WHERE district = $district
      AND assignment_id IN (SELECT assignment_id FROM assignments WHERE teacher_user_id IS NULL)
)
SELECT a.assignment_id, a.class_sourced_id,
       coalesce(a.teacher_user_id, o.teacher_user_id) AS teacher_user_id,
       coalesce(a.teacher_name, nullif(trim(concat_ws(' ', u.given_name, u.family_name)), ''),
                a.teacher_user_id, o.teacher_user_id, 'Teacher not on record') AS teacher_name,
       coalesce(a.class_title, c.title, a.class_sourced_id, 'no class') AS class_title,
       coalesce(a.title, o.title, a.assignment_id) AS title
FROM assignments a
LEFT JOIN owners o ON a.teacher_user_id IS NULL AND o.assignment_id = a.assignment_id
LEFT JOIN otus.users u
  ON u.district = $district AND u.user_id = coalesce(a.teacher_user_id, o.teacher_user_id)
LEFT JOIN sis.classes c ON c.district = $district AND c.sourced_id = a.class_sourced_id
"""
    records = f"""
CREATE OR REPLACE TEMP TABLE report_records AS
SELECT entity, assignment_id, student_key, weight,
       {_CATEGORY_SQL.format(column="weight")} AS category
FROM (SELECT r.entity, r.assignment_id, coalesce(r.student_sourced_id, '') AS student_key,
             max({WEIGHT_SQL}) AS weight
      FROM passback.rejections r LEFT JOIN {KINDS_TABLE} k ON k.rule = r.rule
      WHERE {scope.predicate("r")}
      GROUP BY ALL)
"""
    named = """
CREATE OR REPLACE TEMP VIEW report_named AS
SELECT c.entity, c.assignment_id, c.student_key, nullif(c.student_key, '') AS student_sourced_id,
       c.weight, c.category, a.teacher_user_id, a.teacher_name, a.class_sourced_id,
       a.class_title, a.title
FROM report_records c JOIN report_assignments a ON a.assignment_id = c.assignment_id
"""
    return [assignments, records, named]


def rows_sql(scope: Scope, where: str = "TRUE") -> str:
    """The scope's rejection rows with their weight (`row_weight`), their record's category and
    weight, teacher and titles (parameters: `scope.params()`); `where` filters over them."""
    return f"""
SELECT * FROM (
    SELECT c.category, c.weight, {WEIGHT_SQL} AS row_weight, r.rule, r.severity, r.entity,
           a.teacher_user_id, a.teacher_name, r.class_sourced_id, a.class_title,
           r.assignment_id, a.title, r.student_sourced_id, r.message
    FROM passback.rejections r
    LEFT JOIN {KINDS_TABLE} k ON k.rule = r.rule
    JOIN report_records c ON c.entity = r.entity AND c.assignment_id = r.assignment_id
                         AND c.student_key = coalesce(r.student_sourced_id, '')
    JOIN report_assignments a ON a.assignment_id = r.assignment_id
    WHERE {scope.predicate("r")}
) WHERE {where}
"""


HEADLINE_SQL = """
SELECT category, entity, count(*) AS records FROM report_records GROUP BY ALL
"""


def by_rule_sql(scope: Scope) -> str:
    """Rows per rule (the catalog's kind joined after grouping: a few rows, not all)."""
    return f"""
SELECT r.entity, r.rule, r.severity, {KIND_SQL} AS kind, r.rows, r.rejects, r.warnings
FROM (SELECT entity, rule, severity, count(*) AS rows,
             count(*) FILTER (WHERE severity = 'reject') AS rejects,
             count(*) FILTER (WHERE severity = 'warn') AS warnings
      FROM passback.rejections WHERE {scope.predicate()} GROUP BY ALL) r
LEFT JOIN {KINDS_TABLE} k ON k.rule = r.rule
ORDER BY r.rows DESC, r.rule
"""


TEACHERS_SQL = """
SELECT coalesce(teacher_user_id, '') AS teacher_key, teacher_user_id, teacher_name,
       count(*) FILTER (WHERE category = 'fix' AND entity = 'line_item') AS fix_line_items,
       count(*) FILTER (WHERE category = 'fix' AND entity = 'result') AS fix_results,
       count(*) FILTER (WHERE category = 'sis_refused') AS sis_refused,
       count(*) FILTER (WHERE category = 'follows') AS follows,
       count(*) FILTER (WHERE category = 'not_ready') AS not_ready,
       count(*) FILTER (WHERE category = 'notice') AS notices
FROM report_named GROUP BY ALL
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
FROM ({rows_sql(scope, "row_weight = weight AND category <> 'follows'")}) a
LEFT JOIN ({_WAITING_SQL}) w ON w.assignment_id = a.assignment_id
"""


def teacher_items_sql(scope: Scope) -> str:
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


NOT_READY_SQL = """
SELECT * FROM (
    SELECT *, row_number() OVER (PARTITION BY teacher_key ORDER BY class_title, title) AS n
    FROM (SELECT coalesce(teacher_user_id, '') AS teacher_key, class_title, title,
                 count(*) AS scores
          FROM report_named WHERE category = 'not_ready' GROUP BY ALL)
) WHERE n <= $cap ORDER BY teacher_key, n
"""


def sis_refusals_sql(scope: Scope) -> str:
    return f"""
SELECT teacher_name, class_title, title, entity, student_sourced_id, message, waiting
FROM ({action_rows_sql(scope)}) WHERE category = 'sis_refused'
ORDER BY teacher_name, class_title, title, entity, student_sourced_id
LIMIT {SECTION_ROWS}
"""


TOTALS_SQL = """
SELECT (SELECT count(*) FROM passback.line_items WHERE district = $district AND
        grading_period_sourced_id = $gp),
       (SELECT count(*) FROM passback.results WHERE district = $district AND
        grading_period_sourced_id = $gp)
"""
# Refused records without a grading period, by entity: a period's report points to them.
DISTRICT_LEVEL_SQL = """
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
