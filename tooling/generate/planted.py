"""The planted table: which record breaks which rule, and what this district's profile does.

Line items are listed by predicate, not by mechanism: every class assignment that breaks a
rule is listed, whether planted on purpose or by a closed grading period, so a class
assignment absent from the table passes every rule. Results are listed for the scores of
clean line items only (a score of a refused line item gets `line_item_rejected`; a sample of
those is listed). Rows with expect `pass` are controls: near misses that must not be refused.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tooling.generate.calendar import SchoolCalendar
from tooling.generate.plants import effect
from tooling.generate.scores import build_score_view

# Planted case -> the rule it is planted to break (or, for controls, to not break).
CASE_RULE = {
    "assessment_deleted": "removed_from_otus", "assignment_deleted": "removed_from_otus",
    "standards": "standards_based", "points_missing": "no_points_possible",
    "points_zero": "no_points_possible", "fractional_possible": "fractional_points",
    "title_50_plus": "name_too_long", "title_exactly_50": "name_too_long",
    "title_exactly_49": "name_too_long", "not_in_final_grade": "not_in_final_grade",
    "type_mapped_to_null": "unmapped_category", "type_outside_otus_12": "unmapped_category",
    "category_tobedeleted": "inactive_category", "otus_admin": "assigner_not_in_sis",
    "otus_admin_not_in_group": "assigner_not_in_sis",
    "assigned_before_effective": "before_effective_date",
    "assigned_before_updated_after": "before_effective_date",
    "assigned_utc_date_differs": "before_effective_date", "due_in_gap": "no_grading_period",
    "due_in_summer": "no_grading_period", "due_2330_last_day_open": "no_grading_period",
    "due_2330_last_day_closed": "no_grading_period", "due_after_term_end": "outside_term",
    "straddles_closed_end": "closed_grading_period",
}
# Line-item rule -> (SQL predicate over li_fact, case name when not planted for this rule).
LINE_ITEM_PREDICATES: dict[str, tuple[str, str]] = {
    "removed_from_otus": ("removed", "removed"),
    "standards_based": ("method = 'standards'", "standards"),
    "no_points_possible": ("method = 'points' AND coalesce(pp, 0) <= 0", "no_points"),
    "fractional_points": ("method = 'points' AND pp > 0 AND pp <> floor(pp)", "fractional"),
    "name_too_long": ("length(title) >= 50", "title_50_plus"),
    "not_in_final_grade": ("NOT include", "not_in_final_grade"),
    "unmapped_category": ("category IS NULL", "unmapped"),
    "inactive_category": ("category IS NOT NULL AND NOT category_active", "inactive"),
    "assigner_not_in_sis": ("assigner_sis IS NULL", "otus_only_assigner"),
    "teacher_not_in_group": ("NOT assigner_in_group", "teacher_not_in_group"),
    "class_not_in_sis": ("NOT class_in_sis", "class_dropped_from_sis"),
    "no_grading_period": ("NOT in_grading_period", "due_outside_grading_periods"),
    "closed_grading_period": ("touches_closed", "in_closed_period"),
    # A class missing from the SIS has no SIS term to be outside of (class_not_in_sis says it).
    "outside_term": ("class_in_sis AND (due_date < term_start OR due_date > term_end)",
                     "outside_term"),
}
# Controls: (case, rule) pairs that must pass although they look close to breaking.
CONTROLS = (("title_exactly_49", "name_too_long"),
            ("due_2330_last_day_open", "no_grading_period"),
            ("due_2330_last_day_closed", "no_grading_period"))


def build_line_item_facts(con: duckdb.DuckDBPyConnection, cal: SchoolCalendar) -> None:
    """Table li_fact: per class assignment, the values the line-item rules look at."""
    s1, s2 = cal.semesters
    con.execute(f"""CREATE TABLE li_fact AS
    WITH f AS (
        SELECT ca.ca, ca.a, ca.class, coalesce(ca.ca_plant, ca.a_plant) AS plant,
               ca.deleted_local IS NOT NULL OR a.deleted_local IS NOT NULL AS removed,
               a.grading_method AS method, a.points_possible AS pp, a.title,
               a.include_in_final_grade AS include, tc.category, tc.active AS category_active,
               u.sis_sourced_id AS assigner_sis, u.in_group AS assigner_in_group,
               c.in_sis AS class_in_sis, c.term_kind,
               ca.assigned_local::DATE AS assigned_date, ca.updated_local::DATE AS updated_date,
               ca.start_date, ca.due_date,
               CASE c.term_kind WHEN 2 THEN DATE '{s2.start}' ELSE DATE '{s1.start}' END
                   AS term_start,
               CASE c.term_kind WHEN 1 THEN DATE '{s1.end}' ELSE DATE '{s2.end}' END AS term_end
        FROM class_assignment ca JOIN assessment a USING (a) JOIN class c USING (class)
        JOIN otus_user u ON u.user_id = ca.assigned_by
        LEFT JOIN type_category tc USING (assessment_type))
    SELECT f.*,
        EXISTS (SELECT 1 FROM gp WHERE (f.term_kind = 0 OR f.term_kind = 1 + gp.sem)
                AND f.due_date BETWEEN gp.gstart AND gp.gend) AS in_grading_period,
        EXISTS (SELECT 1 FROM gp WHERE gp.closed AND f.start_date <= gp.gend
                AND f.due_date >= gp.gstart) AS touches_closed
    FROM f""")


def _line_item_selects(cal: SchoolCalendar, profile: str) -> list[str]:
    cases = " ".join(f"WHEN '{c}' THEN '{r}'" for c, r in CASE_RULE.items())
    selects = []
    for rule, (predicate, default_case) in LINE_ITEM_PREDICATES.items():
        selects.append(f"""SELECT '{rule}' AS rule_id, '{effect(rule, profile)}' AS expect,
            CASE WHEN (CASE plant {cases} END) = '{rule}' THEN plant ELSE '{default_case}' END
                AS case_name, a, ca, NULL::BIGINT AS student FROM li_fact WHERE {predicate}""")
    eff = f"DATE '{cal.effective_date}'"
    # Skyward refuses only what was neither assigned nor changed on or after the date.
    refused = (f"assigned_date < {eff} AND updated_date < {eff}" if profile == "skyward"
               else f"assigned_date < {eff}")
    selects.append(f"""SELECT 'before_effective_date', CASE WHEN {refused} THEN 'reject'
            ELSE 'pass' END, coalesce(plant, 'assigned_before_effective'), a, ca, NULL
        FROM li_fact WHERE assigned_date < {eff}""")
    for case, rule in CONTROLS:
        selects.append(f"""SELECT '{rule}', 'pass', '{case}', a, ca, NULL FROM li_fact
            WHERE plant = '{case}'""")
    return selects


def build_planted(con: duckdb.DuckDBPyConnection, cal: SchoolCalendar, profile: str) -> None:
    """Table planted (integer keys): line-item rows by predicate, then result rows."""
    build_line_item_facts(con, cal)
    selects = _line_item_selects(cal, profile)
    con.execute("CREATE TABLE planted_li AS " + " UNION ALL ".join(selects))
    con.execute("""CREATE TABLE clean_ca AS SELECT * FROM ca_score
                   WHERE ca NOT IN (SELECT ca FROM planted_li WHERE expect = 'reject')""")
    build_score_view(con, cal, source="clean_ca", name="clean_score")
    not_graded_expect = ("CASE WHEN due_passed AND status IN ('not_submitted', 'in_progress') "
                         "THEN 'pass' ELSE 'reject' END" if profile == "skyward" else "'reject'")
    con.execute(f"""CREATE TABLE planted_result AS
    WITH s AS (SELECT * FROM clean_score
               WHERE (status <> 'graded' OR excluded OR points_earned IS NULL
                    OR points_earned < 0 OR NOT enrolled_in_sis OR points_earned > pp
                    OR (pp = 10 AND points_earned = 8.5)))
    SELECT 'excluded_score' AS rule_id, 'reject' AS expect, 'excluded' AS case_name, ca, student
        FROM s WHERE excluded
    UNION ALL SELECT 'invalid_score', 'reject', CASE WHEN points_earned IS NULL THEN
        'graded_without_points' ELSE 'negative_points' END, ca, student
        FROM s WHERE status = 'graded' AND (points_earned IS NULL OR points_earned < 0)
    UNION ALL SELECT 'invalid_score', 'pass', 'extra_credit', ca, student
        FROM s WHERE status = 'graded' AND points_earned > pp
    UNION ALL SELECT 'student_not_enrolled', 'reject', 'enrollment_dropped_in_sis', ca, student
        FROM s WHERE NOT enrolled_in_sis
    UNION ALL SELECT 'not_graded', {not_graded_expect},
        status || CASE WHEN due_passed THEN '_due_passed' ELSE '_not_due' END, ca, student
        FROM s WHERE status <> 'graded'
    UNION ALL (SELECT 'fractional_points', 'pass', 'earned_8.5_of_10', ca, student
        FROM s WHERE status = 'graded' AND pp = 10 AND points_earned = 8.5
        ORDER BY ca, student LIMIT 20)""")
    # line_item_rejected: the scores of one refused class assignment per line-item rule.
    con.execute("""CREATE TABLE sample_pick AS SELECT rule_id, min(ca) AS ca FROM planted_li
                   WHERE expect = 'reject' GROUP BY rule_id""")
    con.execute("CREATE TABLE sample_ca AS SELECT * FROM ca_score "
                "WHERE ca IN (SELECT ca FROM sample_pick) ORDER BY ca")
    build_score_view(con, cal, source="sample_ca", name="sample_score")
    con.execute("""CREATE TABLE planted_rejected_sample AS
        SELECT 'line_item_rejected' AS rule_id, 'reject' AS expect,
               'scores_of_' || p.rule_id AS case_name, s.ca, s.student
        FROM sample_pick p JOIN sample_score s USING (ca)""")


def write_planted(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> int:
    """Write the planted list with string keys, sorted; return its row count."""
    query = """
        SELECT p.rule_id, p.expect, p.entity, p.case_name, 'as' || ca.a AS assessment_id,
               'ca' || p.ca AS assignment_id, 'cls' || ca.class AS class_sourced_id,
               CASE WHEN p.student IS NOT NULL THEN 'stu' || p.student END AS student_sourced_id
        FROM (SELECT rule_id, expect, 'line_item' AS entity, case_name, ca, student
              FROM planted_li
              UNION ALL SELECT rule_id, expect, 'result', case_name, ca, student
              FROM planted_result
              UNION ALL SELECT rule_id, expect, 'result', case_name, ca, student
              FROM planted_rejected_sample) p
        JOIN class_assignment ca USING (ca)
        ORDER BY p.rule_id, p.entity, p.case_name, p.ca, p.student NULLS FIRST"""
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
    return int(con.execute(f"COPY ({query}) TO '{path}' ({options})").fetchone()[0])
