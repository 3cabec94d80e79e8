"""Candidates: the raw otus.* and sis.* tables joined into one row per Otus class assignment
(a candidate line item) and one row per score (a candidate result), with the catalog's
derived values computed in DuckDB SQL (joins and date arithmetic are what it is best at).

Derived values (../shared/passback-rules.md): local dates in the district's time zone,
start date (go_live_at else assigned_at), due date (due_at else start + 7 days), the grading
period containing the due date among the class's terms' grading periods (or the school
year's when the SIS does not relate them), closed grading periods, the mapped category.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pandas as pd
import pyarrow as pa

from assets.transform.sourced_ids import digest_sql, name_sql, uuid_from_digest_sql
from pipeline.grading_periods import CLOSED_PREDICATE
from pipeline.rule_settings import RunSettings


def _local_date(ts: str) -> str:
    return f"(({ts}) AT TIME ZONE $zone)::DATE"


_START = "coalesce(ca.go_live_at, ca.assigned_at)"

# Grading periods a class's line items can fall in: those under the class's terms (or the
# class's terms themselves when they are grading periods); when the SIS relates none, every
# grading period of the class's school year (of the district's, if that is unknown too).
_CLASS_GRADING_PERIODS = f"""
gp AS (
    SELECT sourced_id, title, start_date, end_date, parent_sourced_id, school_year,
           {CLOSED_PREDICATE} AS closed
    FROM sis.academic_sessions
    WHERE district = $district AND type = 'gradingPeriod'
      AND coalesce(status, 'active') = 'active'),
class_ids AS (SELECT DISTINCT class_sourced_id FROM otus.class_assignments
              WHERE district = $district),
class_terms AS (
    SELECT c.sourced_id AS class_sourced_id, unnest(c.term_sourced_ids) AS term_id
    FROM sis.classes c WHERE c.district = $district),
term_span AS (
    SELECT ct.class_sourced_id, min(s.start_date) AS term_start, max(s.end_date) AS term_end,
           any_value(s.school_year) AS school_year
    FROM class_terms ct JOIN sis.academic_sessions s
      ON s.district = $district AND s.sourced_id = ct.term_id
    GROUP BY ct.class_sourced_id),
related AS (
    SELECT DISTINCT ct.class_sourced_id, gp.*
    FROM class_terms ct JOIN gp ON gp.parent_sourced_id = ct.term_id OR gp.sourced_id = ct.term_id),
class_gp AS (
    SELECT * FROM related
    UNION ALL
    SELECT ci.class_sourced_id, gp.*
    FROM class_ids ci LEFT JOIN term_span ts USING (class_sourced_id) JOIN gp
      ON ts.school_year IS NULL OR gp.school_year IS NULL OR gp.school_year = ts.school_year
    WHERE ci.class_sourced_id NOT IN (SELECT class_sourced_id FROM related))
"""

LINE_ITEM_SQL = f"""
WITH {_CLASS_GRADING_PERIODS},
base AS (
    SELECT ca.assignment_id, ca.assessment_id, ca.class_sourced_id,
           ca.assigned_by AS teacher_user_id,
           coalesce(a.title, '(assessment ' || ca.assessment_id || ')') AS title,
           a.assessment_type, a.grading_method, a.points_possible, a.include_in_final_grade,
           -- an assignment whose assessment is gone was removed from Otus
           CASE WHEN a.assessment_id IS NULL THEN ca.updated_at ELSE a.deleted_at END
               AS assessment_deleted_at,
           ca.deleted_at AS assignment_deleted_at,
           {_local_date("ca.assigned_at")} AS assigned_date,
           greatest(ca.updated_at, a.updated_at) AS updated_at,
           {_local_date("greatest(ca.updated_at, a.updated_at)")} AS updated_date,
           {_local_date(_START)} AS assign_date,
           coalesce({_local_date("ca.due_at")}, {_local_date(_START)} + 7) AS due_date
    FROM otus.class_assignments ca
    LEFT JOIN otus.assessments a
      ON a.district = ca.district AND a.assessment_id = ca.assessment_id
    WHERE ca.district = $district),
in_period AS (
    SELECT b.assignment_id, arg_min(g.sourced_id, g.start_date) AS grading_period_sourced_id
    FROM base b JOIN class_gp g ON g.class_sourced_id = b.class_sourced_id
     AND b.due_date BETWEEN g.start_date AND g.end_date
    GROUP BY b.assignment_id),
touches_closed AS (
    SELECT b.assignment_id, arg_min(g.sourced_id, g.start_date) AS closed_period_sourced_id,
           arg_min(coalesce(g.title, g.sourced_id), g.start_date) AS closed_period_title
    FROM base b JOIN class_gp g ON g.class_sourced_id = b.class_sourced_id AND g.closed
     AND g.start_date <= greatest(b.assign_date, b.due_date)
     AND g.end_date >= least(b.assign_date, b.due_date)
    GROUP BY b.assignment_id)
SELECT b.*, length(b.title) AS title_length,
       m.category_sourced_id,
       cat.sourced_id IS NOT NULL AS category_active,
       (SELECT count(*) > 0 FROM sis.categories WHERE district = $district) AS sis_has_categories,
       u.sis_sourced_id AS assigner_sis_sourced_id,
       coalesce(nullif(concat_ws(' ', u.given_name, u.family_name), ''), b.teacher_user_id)
           AS teacher_name,
       b.teacher_user_id IN (SELECT user_id FROM otus.passback_group WHERE district = $district)
           AS assigner_in_group,
       -- a bulk roster file leaves status blank: present means active
       c.sourced_id IS NOT NULL AND coalesce(c.status, 'active') = 'active' AS class_active,
       coalesce(c.title, b.class_sourced_id) AS class_title, c.school_sourced_id,
       ts.term_start, ts.term_end,
       p.grading_period_sourced_id, tc.closed_period_sourced_id, tc.closed_period_title,
       $effective_date::DATE AS effective_date,
       b.due_date < $as_of AS due_passed,
       {uuid_from_digest_sql("h")} AS sourced_id
FROM (SELECT *, {digest_sql(name_sql("$district", "line_item", "assignment_id"))} AS h FROM base) b
LEFT JOIN category_map m ON m.assessment_type = b.assessment_type
LEFT JOIN sis.categories cat ON cat.district = $district
      AND cat.sourced_id = m.category_sourced_id AND coalesce(cat.status, 'active') = 'active'
LEFT JOIN otus.users u ON u.district = $district AND u.user_id = b.teacher_user_id
LEFT JOIN sis.classes c ON c.district = $district AND c.sourced_id = b.class_sourced_id
LEFT JOIN term_span ts ON ts.class_sourced_id = b.class_sourced_id
LEFT JOIN in_period p USING (assignment_id)
LEFT JOIN touches_closed tc USING (assignment_id)
ORDER BY b.assignment_id
"""

# One row per score of the line items in scope (`line_item_scope`, registered by the
# caller). Kept narrow on purpose: over millions of scores every column costs memory, and
# titles or class names are joined only onto rejected rows when messages are written.
RESULT_SQL = f"""
SELECT s.assignment_id, s.student_sourced_id, s.status,
       replace(s.status, '_', ' ') AS status_label, s.points_earned, s.excluded,
       coalesce(li.line_item_accepted, FALSE) AS line_item_accepted,
       coalesce(li.due_passed, FALSE) AS due_passed,
       e.user_sourced_id IS NOT NULL AS enrolled,
       CASE WHEN s.graded_at IS NOT NULL THEN {_local_date("s.graded_at")} END AS graded_date,
       s.updated_at
FROM otus.scores s
JOIN line_item_scope li ON li.assignment_id = s.assignment_id
LEFT JOIN (SELECT DISTINCT class_sourced_id, user_sourced_id FROM sis.enrollments
           WHERE district = $district AND role = 'student'
             AND coalesce(status, 'active') = 'active') e
  ON e.class_sourced_id = li.class_sourced_id AND e.user_sourced_id = s.student_sourced_id
WHERE s.district = $district
"""

ORPHAN_SCORES_SQL = """
SELECT count(*) FROM otus.scores s
WHERE s.district = $district AND s.assignment_id NOT IN
      (SELECT assignment_id FROM otus.class_assignments WHERE district = $district)
"""


def _category_map(settings: RunSettings) -> pa.Table:
    return pa.table({
        "assessment_type": pa.array(list(settings.categories), pa.string()),
        "category_sourced_id": pa.array(list(settings.categories.values()), pa.string()),
    })


def _query_frame(conn: duckdb.DuckDBPyConnection, settings: RunSettings, sql: str,
                 params: dict[str, object], name: str, table: pa.Table) -> pd.DataFrame:
    """Run `sql` with `table` registered as `name`; an Arrow-backed frame with run facts."""
    conn.register(name, table)
    try:
        result = conn.sql(sql, params=params).to_arrow_table()
    finally:
        conn.unregister(name)
    frame = result.to_pandas(types_mapper=pd.ArrowDtype)
    frame.attrs.update(settings.frame_attrs())
    return frame


def line_item_candidates(conn: duckdb.DuckDBPyConnection, settings: RunSettings) -> pd.DataFrame:
    """Every class assignment of the district with its derived values (Arrow-backed)."""
    params = {**settings.params(), "effective_date": settings.effective_date}
    return _query_frame(conn, settings, LINE_ITEM_SQL, params, "category_map",
                        _category_map(settings))


def result_candidates(
    conn: duckdb.DuckDBPyConnection, settings: RunSettings, line_item_scope: pa.Table
) -> pd.DataFrame:
    """Scores of the line items in scope, with what the result rules need (Arrow-backed).

    `line_item_scope` has assignment_id, class_sourced_id, line_item_accepted, due_passed.
    """
    params = {k: v for k, v in settings.params().items() if k in ("district", "zone")}
    return _query_frame(conn, settings, RESULT_SQL, params, "line_item_scope", line_item_scope)


def stage_result_candidates(conn: duckdb.DuckDBPyConnection, settings: RunSettings,
                            line_item_scope: pa.Table, table: str) -> int:
    """`result_candidates` as a temporary DuckDB table (millions of scores at district scale
    stay in DuckDB, which spills past its memory limit); returns its rows."""
    params = {k: v for k, v in settings.params().items() if k in ("district", "zone")}
    conn.register("line_item_scope", line_item_scope)
    try:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {RESULT_SQL}", params)
    finally:
        conn.unregister("line_item_scope")
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def candidate_batches(conn: duckdb.DuckDBPyConnection, settings: RunSettings, table: str,
                      rows: int, size: int) -> Iterator[pd.DataFrame]:
    """A staged candidate table in frames of at most `size` rows (Arrow-backed, run facts in
    `attrs`), in the order it was written."""
    for start in range(0, rows, size):
        frame = conn.sql(f"SELECT * FROM {table} WHERE rowid >= $start AND rowid < $end",
                         params={"start": start, "end": start + size}).to_arrow_table() \
            .to_pandas(types_mapper=pd.ArrowDtype)
        frame.attrs.update(settings.frame_attrs())
        yield frame


def duplicate_candidates(conn: duckdb.DuckDBPyConnection, table: str,
                         key: list[str]) -> pd.DataFrame:
    """Every candidate whose key another candidate shares (none in a valid export)."""
    columns = ", ".join(key)
    return conn.sql(f"SELECT {columns} FROM {table} SEMI JOIN (SELECT {columns} FROM {table} "
                    f"GROUP BY ALL HAVING count(*) > 1) USING ({columns})").to_arrow_table() \
        .to_pandas(types_mapper=pd.ArrowDtype)
