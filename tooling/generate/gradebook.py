"""Otus gradebook content: assessments, their class assignments and the students' scores.

Every teacher writes 15 to 30 assessments per grading period of their course's term and
assigns each to all their sections. A clean assessment is designed to pass every rule: due on
a school day of its grading period, assigned in that period, points-based with whole points.
Planted cases (see `plants.py`) then bend one property each. Everything is designed in local
time and converted to UTC once, so the local-date rules are exact by construction.
"""

from __future__ import annotations

import duckdb

from tooling.generate.calendar import SchoolCalendar
from tooling.generate.plants import assessment_plant_sql, assignment_plant_sql

# Clean assessment types, repeated by how often teachers use them.
CLEAN_TYPES = (
    ["Homework"] * 5 + ["Quiz"] * 4 + ["Classwork"] * 3 + ["Test"] * 2 + ["Exit Ticket"] * 2
    + ["Project", "Essay", "Presentation", "Performance Task", "Benchmark"]
)
TOPICS = (
    "Linear Equations", "Cell Structure", "Ratios, Rates and Proportions", 'Reading "The Raven"',
    "The New Deal", "Chemical Bonds", "Newton's Laws", "Verb Tenses", "Plate Tectonics",
    "Supply and Demand", "Probability", "Persuasive Writing", "The Water Cycle",
    "Fractions & Decimals", "Primary Sources", "Photosynthesis", "Vocabulary Set",
    "Map Skills", "Loops and Functions", "Color Theory",
)
# Appended to a title and cut to length to make titles of 49, 50 and more characters.
LONG_TAIL = " - Cumulative Review of Units One Through Four with Extended Practice"


def _literal_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def build_grading_periods(con: duckdb.DuckDBPyConnection, cal: SchoolCalendar) -> None:
    """Table gp: the four quarters with their term end, the gap after, the previous end."""
    rows = []
    for g, q in enumerate(cal.quarters):
        prev_end = f"DATE '{cal.quarters[g - 1].end}'" if g else "NULL::DATE"
        rows.append(
            f"({g}, '{q.sourced_id}', DATE '{q.start}', DATE '{q.end}', "
            f"{str(q.sourced_id in cal.closed).lower()}, {g // 2}, "
            f"DATE '{cal.semesters[g // 2].end}', DATE '{cal.gap_after(g)}', {prev_end})"
        )
    con.execute(f"""CREATE TABLE gp AS SELECT * FROM (VALUES {", ".join(rows)})
        AS t(g, gp_id, gstart, gend, closed, sem, term_end, gap_date, prev_end)""")


def build_assessment_design(con: duckdb.DuckDBPyConnection, cal: SchoolCalendar) -> None:
    """Table design: one clean assessment per (teacher, grading period, k), assigned by as-of."""
    con.execute(f"""CREATE TABLE design AS
    WITH tg AS (
        SELECT t.teacher, t.term_kind, t.course, g.*, 15 + pick('n', t.teacher, g.g, 16) AS n
        FROM teacher t JOIN gp g ON t.term_kind = 0 OR t.term_kind = 1 + g.sem),
    k AS (
        SELECT tg.*, r.range AS k, tg.teacher * 200 + tg.g * 40 + r.range AS a
        FROM tg, range(30) r WHERE r.range < tg.n),
    due AS (
        -- Due dates spread over the period's 45 school days (Monday start, weekdays only).
        SELECT *, floor((k + u01('due', a, 0)) * 45 / n)::INT AS idx FROM k),
    dated AS (
        SELECT *, gstart + (idx // 5) * 7 + idx % 5 AS due_date,
               1 + pick('lead', a, 0, 10) AS lead FROM due),
    nodue AS (
        -- No due_at: the pipeline derives start + 7 days, so design exactly that.
        SELECT *, (u01('nodue', a, 0) < 0.08 AND due_date - 7 >= gstart) AS due_null FROM dated),
    assigned AS (
        SELECT *, greatest(gstart, due_date - CASE WHEN due_null THEN 7 ELSE lead END)
                  AS assigned_date FROM nodue)
    SELECT *,
        assigned_date::TIMESTAMP + to_seconds(CASE WHEN u01('eve', a, 0) < 0.1
            THEN 21 * 3600 + pick('at', a, 0, 9600) ELSE 7 * 3600 + pick('at', a, 0, 36000) END)
            AS base_assigned,
        CASE WHEN NOT due_null AND due_date - assigned_date >= 2 AND u01('gl', a, 0) < 0.25
             THEN (assigned_date + 1 + pick('gld', a, 0, due_date - assigned_date - 1))::TIMESTAMP
                  + INTERVAL 7 HOUR END AS base_go_live,
        due_date::TIMESTAMP + CASE WHEN u01('dt', a, 0) < 0.6 THEN INTERVAL '23:59:00'
             WHEN u01('dt', a, 0) < 0.85 THEN INTERVAL 15 HOUR ELSE INTERVAL 8 HOUR END
            AS base_due,
        {_literal_list(CLEAN_TYPES)}[1 + pick('type', a, 0, {len(CLEAN_TYPES)})] AS base_type,
        {_literal_list(TOPICS)}[1 + pick('topic', course, a % 7, {len(TOPICS)})] AS topic,
        [10, 20, 25, 50, 100, 5][1 + pick('pp', a, 0, 6)]::DOUBLE AS base_points
    FROM assigned
    WHERE assigned_date <= DATE '{cal.as_of}'""")


def build_assessments(con: duckdb.DuckDBPyConnection, cal: SchoolCalendar) -> None:
    """Table assessment: the design with planted cases applied, timestamps in local time."""
    con.execute(f"CREATE TABLE assessment_plant AS {assessment_plant_sql()}")
    as_of_end = f"(DATE '{cal.as_of}'::TIMESTAMP + INTERVAL '23:59:59')"
    eff = f"DATE '{cal.effective_date}'"
    before = "('assigned_before_effective', 'assigned_before_updated_after', " \
             "'assigned_utc_date_differs')"
    title = "(base_type || ' ' || (1 + k) || ': ' || topic)"
    con.execute(f"""CREATE TABLE assessment AS
    WITH p AS (SELECT d.*, ap.plant FROM design d LEFT JOIN assessment_plant ap USING (a)),
    t AS (SELECT *,
        CASE plant WHEN 'assigned_before_effective' THEN
                        ({eff} - 1 - pick('bef', a, 0, 6))::TIMESTAMP + INTERVAL 10 HOUR
                   WHEN 'assigned_before_updated_after' THEN
                        ({eff} - 1 - pick('bef', a, 0, 6))::TIMESTAMP + INTERVAL 10 HOUR
                   -- 22:30 local the day before is 03:30Z on the effective date itself.
                   WHEN 'assigned_utc_date_differs' THEN
                        ({eff} - 1)::TIMESTAMP + INTERVAL '22:30:00'
                   WHEN 'straddles_closed_end' THEN
                        (prev_end - pick('str', a, 0, 3))::TIMESTAMP + INTERVAL 14 HOUR
                   ELSE base_assigned END AS assigned_local,
        CASE WHEN plant IN {before} THEN base_assigned
             WHEN plant = 'straddles_closed_end' THEN NULL ELSE base_go_live END AS go_live_local,
        CASE plant WHEN 'due_in_gap' THEN gap_date::TIMESTAMP + INTERVAL '23:59:00'
                   WHEN 'due_in_summer' THEN DATE '{cal.summer_day}'::TIMESTAMP + INTERVAL 16 HOUR
                   WHEN 'due_after_term_end' THEN
                        (term_end + 21)::TIMESTAMP + INTERVAL '23:59:00'
                   WHEN 'due_2330_last_day_open' THEN
                        gend::TIMESTAMP + INTERVAL '23:30:00'
                   WHEN 'due_2330_last_day_closed' THEN
                        gend::TIMESTAMP + INTERVAL '23:30:00'
                   ELSE base_due END AS due_local,
        due_null AND plant IS NULL AS due_at_null,
        CASE plant WHEN 'title_50_plus'
                        THEN left({title} || '{LONG_TAIL}', 51 + pick('len', a, 0, 28))
                   WHEN 'title_exactly_50' THEN left({title} || '{LONG_TAIL}', 50)
                   WHEN 'title_exactly_49' THEN left({title} || '{LONG_TAIL}', 49)
                   ELSE {title} END AS raw_title
        FROM p)
    SELECT a, teacher, g, closed, plant,
        -- A cut that ends in a space would be trimmed by someone: end it on a letter instead.
        CASE WHEN right(raw_title, 1) = ' ' THEN left(raw_title, length(raw_title) - 1) || 's'
             ELSE raw_title END AS title,
        CASE plant WHEN 'type_mapped_to_null' THEN 'Participation'
                   WHEN 'type_outside_otus_12'
                        THEN ['Bell Ringer', 'Do Now'][1 + pick('x', a, 0, 2)]
                   WHEN 'category_tobedeleted' THEN 'Lab' ELSE base_type END AS assessment_type,
        CASE WHEN plant = 'standards' THEN 'standards' ELSE 'points' END AS grading_method,
        CASE plant WHEN 'standards' THEN 4.0 WHEN 'points_missing' THEN NULL
                   WHEN 'points_zero' THEN 0.0
                   WHEN 'fractional_possible' THEN [10.5, 12.5, 7.5, 2.5][1 + pick('fp', a, 0, 4)]
                   ELSE base_points END AS points_possible,
        plant IS DISTINCT FROM 'not_in_final_grade' AS include_in_final_grade,
        assigned_local, go_live_local, due_local, due_at_null,
        least(CASE WHEN plant = 'assigned_before_updated_after' THEN base_assigned
                   ELSE assigned_local END + to_seconds(pick('upd', a, 0, 7200)), {as_of_end})
            AS updated_local,
        CASE WHEN plant = 'assessment_deleted'
             THEN least(assigned_local + INTERVAL 1 DAY, {as_of_end}) END AS deleted_local
    FROM t""")


def build_class_assignments(con: duckdb.DuckDBPyConnection, cal: SchoolCalendar, tz: str) -> None:
    """Table class_assignment: each assessment on each of its teacher's sections, local and UTC."""
    con.execute(f"CREATE TEMP MACRO utc(ts) AS timezone('{tz}', ts)::TIMESTAMP")
    as_of_end = f"(DATE '{cal.as_of}'::TIMESTAMP + INTERVAL '23:59:59')"
    con.execute("""CREATE TABLE ca_base AS
        SELECT a.a * 5 + c.teacher_section AS ca, a.a, c.class, c.teacher, c.co_teacher,
               a.plant AS a_plant, a.closed,
               -- A teacher assigns to each section a few minutes apart.
               a.assigned_local + to_minutes(3 * c.teacher_section) AS assigned_local,
               a.go_live_local, a.due_local, a.due_at_null, a.updated_local, a.deleted_local
        FROM assessment a JOIN class c USING (teacher)""")
    con.execute(f"CREATE TABLE ca_plant AS {assignment_plant_sql()}")
    con.execute(f"""CREATE TABLE class_assignment AS
    WITH p AS (SELECT b.*, cp.plant AS ca_plant FROM ca_base b LEFT JOIN ca_plant cp USING (ca)),
    l AS (SELECT *,
        CASE ca_plant WHEN 'otus_admin' THEN 'oa1' WHEN 'otus_admin_not_in_group' THEN 'oa2'
             ELSE CASE WHEN co_teacher IS NOT NULL AND u01('coas', ca, 0) < 0.25
                       THEN 'ot' || co_teacher ELSE 'ot' || teacher END END AS assigned_by,
        least(greatest(updated_local, assigned_local), {as_of_end}) AS upd,
        CASE WHEN ca_plant = 'assignment_deleted'
             THEN least(assigned_local + INTERVAL 2 DAY, {as_of_end})
             ELSE deleted_local END AS deleted
        FROM p)
    SELECT ca, a, class, assigned_by, a_plant, ca_plant, closed,
        assigned_local, go_live_local, due_local, due_at_null,
        greatest(upd, coalesce(deleted, upd)) AS updated_local, deleted AS deleted_local,
        utc(assigned_local) AS assigned_utc, utc(go_live_local) AS go_live_utc,
        utc(due_local) AS due_utc, utc(greatest(upd, coalesce(deleted, upd))) AS updated_utc,
        utc(deleted) AS deleted_utc,
        -- Half the timestamps are written in UTC with Z, half with the local offset.
        a_plant = 'assigned_utc_date_differs' OR u01('z', ca, 0) < 0.5 AS zulu,
        coalesce(go_live_local, assigned_local)::DATE AS start_date,
        CASE WHEN due_at_null THEN coalesce(go_live_local, assigned_local)::DATE + 7
             ELSE due_local::DATE END AS due_date
    FROM l""")
