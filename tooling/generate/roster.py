"""The district's people and sections, built column-wise in DuckDB from integer keys.

Each school has `7 * ceil(students / 25)` classes: seven periods, each period cut into
sections of about 25. A teacher teaches five consecutive sections of one course (so five
different periods). Student `j` of a school sits in section `(j + p * (j // sections)) %
sections` of period `p`, a rotation that fills every section evenly and mixes classmates
across periods. Integers become string ids only when files are written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb

STUDENTS_PER_CLASS = 25
PERIODS = 7
SECTIONS_PER_TEACHER = 5
COURSES_PER_SCHOOL = 30

# Planted shares (a few percent each); the first eligible row by hash is always planted too,
# so every case exists even in a small district.
TEACHER_NOT_IN_GROUP = 0.03
CLASS_NOT_IN_SIS = 0.015
ENROLLMENT_NOT_IN_SIS = 0.007
CO_TAUGHT = 0.06

# (title, course code, grades) of the 30 courses every school offers.
COURSES: tuple[tuple[str, str, str], ...] = (
    ("Algebra I", "ALG1", "09"), ("Geometry", "GEOM", "10"), ("Algebra II", "ALG2", "11"),
    ("Precalculus", "PREC", "12"), ("AP Calculus AB", "APCA", "12"), ("Statistics", "STAT", "11"),
    ("English 9", "ENG9", "09"), ("English 10", "ENG10", "10"), ("English 11", "ENG11", "11"),
    ("English 12", "ENG12", "12"), ("AP Literature", "APLIT", "12"), ("Biology", "BIO", "09"),
    ("Chemistry", "CHEM", "10"), ("Physics", "PHYS", "11"), ("Earth Science", "ESCI", "09"),
    ("Environmental Science", "ENVS", "11"), ("World History", "WHIS", "09"),
    ("US History", "USHIS", "11"), ("Government", "GOV", "12"), ("Economics", "ECON", "12"),
    ("Spanish I", "SPA1", "09"), ("Spanish II", "SPA2", "10"), ("French I", "FRE1", "09"),
    ("Art Foundations", "ART1", "09"), ("Concert Band", "BAND", "10"),
    ("Health", "HLTH", "09"), ("Physical Education", "PE", "10"),
    ("Computer Science Principles", "CSP", "11"), ("Engineering Design", "ENGR", "10"),
    ("Psychology", "PSYC", "12"),
)
GIVEN_NAMES = (
    "Ava", "Liam", "Sofia", "Noah", "Mia", "Mateo", "Amara", "Elijah", "Chloe", "Diego",
    "Harper", "Jamal", "Isabella", "Kai", "Layla", "Lucas", "Maya", "Omar", "Priya", "Ryan",
    "Zoe", "Ethan", "Grace", "Hiroshi", "Ines", "Jack", "Leila", "Marcus", "Nora", "Owen",
)
FAMILY_NAMES = (
    "Garcia", "Smith", "Nguyen", "Johnson", "Patel", "Williams", "Kim", "Brown", "Lopez",
    "Jones", "Okafor", "Miller", "Davis", "Martinez", "Wilson", "Anderson", "Thomas", "Lee",
    "Hernandez", "Moore", "O'Brien", "Jackson", "White", "Harris", "Clark", "Lewis", "Young",
    "Walker", "Hall", "Allen",
)


@dataclass(frozen=True)
class School:
    """Sizes and key offsets of one school."""

    school: int
    students: int
    sections: int  # sections per period
    classes: int
    teachers: int
    class_offset: int
    teacher_offset: int


def plan_schools(students: int) -> list[School]:
    """Split the district into schools of about 1,500 students (at least two)."""
    count = max(2, min(40, math.ceil(students / 1500)))
    schools, class_offset, teacher_offset = [], 0, 0
    for s in range(count):
        n = students // count + (1 if s < students % count else 0)
        sections = max(1, math.ceil(n / STUDENTS_PER_CLASS))
        classes = PERIODS * sections
        teachers = math.ceil(classes / SECTIONS_PER_TEACHER)
        schools.append(School(s, n, sections, classes, teachers, class_offset, teacher_offset))
        class_offset += classes
        teacher_offset += teachers
    return schools


def install_macros(con: duckdb.DuckDBPyConnection, seed: int, scale: float = 1.0) -> None:
    """Seeded pseudo-random macros: `u01` in [0, 1) and `pick` in [0, n), pure functions of keys;
    `planted_scale()`, the factor every planted share is multiplied by."""
    seed = int(seed)
    con.execute(f"CREATE OR REPLACE MACRO planted_scale() AS {float(scale)!r}")
    con.execute(f"CREATE OR REPLACE MACRO u01(salt, a, b) AS "
                f"(hash({seed}, salt, a, b) % 1000000007) / 1000000007.0")
    con.execute(f"CREATE OR REPLACE MACRO pick(salt, a, b, n) AS "
                f"(hash({seed}, salt, a, b) % n)::INTEGER")


def _list_literal(values: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def build_roster(con: duckdb.DuckDBPyConnection, students: int) -> list[School]:
    """Create tables school, teacher, class, student and enrollment (Otus's roster)."""
    schools = plan_schools(students)
    rows = ", ".join(
        f"({s.school}, {s.students}, {s.sections}, {s.classes}, {s.teachers}, "
        f"{s.class_offset}, {s.teacher_offset})" for s in schools)
    con.execute(f"""CREATE TABLE school AS SELECT * FROM (VALUES {rows})
        AS t(school, students, sections, classes, teachers, class_offset, teacher_offset)""")
    for macro, names in (("given", GIVEN_NAMES), ("family", FAMILY_NAMES)):
        con.execute(f"CREATE TEMP MACRO {macro}(k) AS "
                    f"{_list_literal(names)}[1 + pick('{macro}', k, 0, {len(names)})]")
    max_teachers = max(s.teachers for s in schools)
    # Term of a teacher's course: 0 year-long, 1 first semester, 2 second semester.
    con.execute(f"""CREATE TABLE teacher AS
        WITH t AS (SELECT s.*, r.range AS local FROM school s, range({max_teachers}) r
                   WHERE r.range < s.teachers)
        SELECT teacher_offset + local AS teacher, school, local,
               school * {COURSES_PER_SCHOOL} + local % {COURSES_PER_SCHOOL} AS course,
               CASE WHEN u01('term', teacher_offset + local, 0) < 0.7 THEN 0
                    WHEN u01('term', teacher_offset + local, 0) < 0.85 THEN 1 ELSE 2 END
                   AS term_kind,
               least({SECTIONS_PER_TEACHER}, classes - local * {SECTIONS_PER_TEACHER})
                   AS sections,
               given(10 * (teacher_offset + local) + 1) AS given_name,
               family(10 * (teacher_offset + local) + 1) AS family_name
        FROM t""")
    # The teacher with the fewest sections is the one always planted: in a small district one
    # teacher's whole gradebook would otherwise be a large share of it.
    _plant_flag(con, "teacher", "in_group", "teacher", TEACHER_NOT_IN_GROUP, "term_kind < 2",
                first="sections")
    max_classes = max(s.classes for s in schools)
    con.execute(f"""CREATE TABLE class AS
        WITH c AS (SELECT s.*, r.range AS c FROM school s, range({max_classes}) r
                   WHERE r.range < s.classes)
        SELECT c.class_offset + c.c AS class, c.school, c.c // {PERIODS} AS section,
               c.c % {PERIODS} AS period, t.teacher, t.course, t.term_kind,
               CASE WHEN c.teachers > 1 AND u01('co', c.class_offset + c.c, 0) < {CO_TAUGHT}
                    THEN c.teacher_offset + (t.local + 1) % c.teachers END AS co_teacher,
               (c.c - t.local * {SECTIONS_PER_TEACHER}) AS teacher_section
        FROM c JOIN teacher t
          ON t.teacher = c.teacher_offset + c.c // {SECTIONS_PER_TEACHER}""")
    _plant_flag(con, "class", "in_sis", "class", CLASS_NOT_IN_SIS, "term_kind = 0")
    con.execute(f"""CREATE TABLE student AS
        SELECT r.range AS student, r.range % {len(schools)} AS school,
               r.range // {len(schools)} AS j,
               given(10 * r.range + 2) AS given_name, family(10 * r.range + 2) AS family_name,
               lpad(CAST(9 + pick('grade', r.range, 0, 4) AS VARCHAR), 2, '0') AS grade
        FROM range({students}) r""")
    con.execute(f"""CREATE TABLE enrollment AS
        SELECT st.student, s.class_offset
                 + ((st.j + p.range * (st.j // s.sections)) % s.sections) * {PERIODS}
                 + p.range AS class
        FROM student st JOIN school s USING (school), range({PERIODS}) p""")
    con.execute("""CREATE OR REPLACE TABLE enrollment AS
        SELECT e.*, c.in_sis AS class_in_sis, c.term_kind
        FROM enrollment e JOIN class c USING (class)""")
    _plant_flag(con, "enrollment", "in_sis", "student, class", ENROLLMENT_NOT_IN_SIS,
                "class_in_sis AND term_kind = 0")
    return schools


def _plant_flag(con: duckdb.DuckDBPyConnection, table: str, column: str, key: str,
                share: float, eligible: str, first: str | None = None) -> None:
    """Add boolean `column`: false for `share` of eligible rows and for the first one by
    `first` (an ORDER BY term, e.g. "sections"), then by hash."""
    keys = [k.strip() for k in key.split(",")]
    a, b = (keys + ["0"])[:2]
    order = f"{first}, " if first else ""
    con.execute(f"""CREATE OR REPLACE TABLE {table} AS
        WITH ranked AS (
            SELECT *, ({eligible}) AS eligible,
                   row_number() OVER (PARTITION BY ({eligible})
                                      ORDER BY {order}u01('rank.{table}', {a}, {b}), {a}, {b})
                       AS rk
            FROM {table})
        SELECT * EXCLUDE (eligible, rk),
               NOT (eligible AND (rk = 1 OR u01('{table}.{column}', {a}, {b})
                                            < {share} * planted_scale()))
                   AS {column}
        FROM ranked""")
