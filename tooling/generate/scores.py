"""Scores: one row per class assignment per student on the class's Otus roster.

A view, not a table: millions of rows are computed while they are written, and every value
is a hash of its keys, so reading the view twice gives the same rows.
"""

from __future__ import annotations

import duckdb

from tooling.generate.calendar import SchoolCalendar

# Status shares: (graded, submitted, in_progress) cut points; the rest is not_submitted.
DUE_PASSED_STATUS = (0.93, 0.95, 0.965)
NOT_DUE_STATUS = (0.30, 0.55, 0.70)
# Score plants on graded scores, cumulative: excluded, negative, no points, extra credit.
SCORE_PLANTS = (("excluded", 0.015), ("negative", 0.017), ("no_points", 0.019),
                ("extra_credit", 0.022))
COMMENTS = ("Great work!", "See me about question 3.", 'Nice use of "evidence", keep it up',
            "Resubmit by Friday, please.")


def _status_case(cuts: tuple[float, float, float]) -> str:
    return (f"CASE WHEN u < {cuts[0]} THEN 'graded' WHEN u < {cuts[1]} THEN 'submitted' "
            f"WHEN u < {cuts[2]} THEN 'in_progress' ELSE 'not_submitted' END")


def build_score_view(con: duckdb.DuckDBPyConnection, cal: SchoolCalendar,
                     source: str = "ca_score", name: str = "score") -> None:
    """View `name`: the scores of the class assignments in table `source` (default: all),
    in (assignment, student) order, with helper columns (due_passed, enrolled_in_sis, pp)."""
    as_of_end = f"utc(DATE '{cal.as_of}'::TIMESTAMP + INTERVAL '23:59:59')"
    plants = " ".join(f"WHEN v < {cut} * planted_scale() THEN '{name}'"
                      for name, cut in SCORE_PLANTS)
    comments = "[" + ", ".join("'" + c.replace("'", "''") + "'" for c in COMMENTS) + "]"
    if source == "ca_score":
        # The roster rides along as a sorted list: unnesting a table scan keeps the table's
        # order, so millions of scores come out in key order without a sort.
        con.execute(f"""CREATE TABLE ca_score AS
        WITH roster AS (
            SELECT class, list(student ORDER BY student) AS students,
                   list('stu' || student ORDER BY student) AS student_ids,
                   list(in_sis AND class_in_sis ORDER BY student) AS enrolled
            FROM enrollment GROUP BY class)
        SELECT ca.ca, ca.class, ca.due_date < DATE '{cal.as_of}' AS due_passed,
               a.grading_method, a.points_possible AS pp, ca.assigned_utc,
               greatest(0, epoch(least(ca.due_utc + INTERVAL 3 DAY, {as_of_end}))
                           - epoch(ca.assigned_utc))::BIGINT AS window_s,
               'ca' || ca.ca AS assignment_id, r.students, r.student_ids, r.enrolled
        FROM class_assignment ca JOIN assessment a USING (a) JOIN roster r USING (class)
        ORDER BY ca.ca""")
    con.execute(f"""CREATE VIEW {name} AS
    WITH s AS (
        SELECT * EXCLUDE (students, student_ids, enrolled), u01('st', ca, student) AS u,
               u01('sp', ca, student) AS v
        FROM (SELECT *, unnest(students) AS student, unnest(student_ids) AS student_sourced_id,
                     unnest(enrolled) AS enrolled_in_sis
              FROM {source})),
    t AS (
        SELECT *, CASE WHEN due_passed THEN {_status_case(DUE_PASSED_STATUS)}
                       ELSE {_status_case(NOT_DUE_STATUS)} END AS status,
                  CASE {plants} END AS plant
        FROM s),
    g AS (
        SELECT *, CASE WHEN status = 'graded' THEN assigned_utc
                       + to_seconds((u01('ga', ca, student) * window_s)::BIGINT) END AS graded_at
        FROM t)
    SELECT ca, student, assignment_id, student_sourced_id, status,
        CASE WHEN status <> 'graded' OR plant = 'no_points' THEN NULL
             WHEN plant = 'negative' THEN -(1 + pick('neg', ca, student, 3))::DOUBLE
             WHEN grading_method = 'standards' THEN (1 + pick('lvl', ca, student, 4))::DOUBLE
             WHEN coalesce(pp, 0) <= 0 THEN pick('raw', ca, student, 11)::DOUBLE
             -- Extra credit: above points_possible is allowed data, not an invalid score.
             WHEN plant = 'extra_credit' AND pp = floor(pp) THEN pp + 1 + pick('xc', ca, student, 3)
             ELSE least(pp, round(pp * (0.45 + 0.55 * sqrt(u01('pts', ca, student))) * 2) / 2)
        END AS points_earned,
        status = 'graded' AND coalesce(plant = 'excluded', false) AS excluded,
        status IN ('graded', 'submitted') AND u01('late', ca, student) < 0.04 AS late,
        status = 'not_submitted' AND due_passed AS missing,
        graded_at,
        CASE WHEN u01('cm', ca, student) < 0.02
             THEN {comments}[1 + pick('cmt', ca, student, {len(COMMENTS)})] END AS comment,
        CASE WHEN status = 'graded' THEN graded_at
             WHEN status = 'not_submitted' THEN assigned_utc
             ELSE assigned_utc + to_seconds((u01('ua', ca, student) * window_s)::BIGINT)
        END AS updated_at,
        due_passed, enrolled_in_sis, pp, plant
    FROM g""")
