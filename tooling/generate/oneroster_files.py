"""Write the SIS roster as a OneRoster 1.1 CSV bundle (the standard 1.1 CSV binding).

Every file is `bulk` (status and dateLastModified blank), except categories.csv, which is
`delta` so it can carry a `tobedeleted` category (the inactive_category case): in the binding
only delta rows have a status. Blank values are written as nothing between the commas.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tooling.generate.calendar import SchoolCalendar
from tooling.generate.roster import COURSES
from tooling.oneroster_csv import COLUMNS

# The files the generator writes (gradebook files are absent: the SIS starts empty).
HEADERS: dict[str, tuple[str, ...]] = {
    name: columns for name, columns in COLUMNS.items() if name not in ("lineItems", "results")}
ABSENT = ("classResources", "courseResources", "demographics", "lineItems", "resources",
          "results")
SCHOOL_NAMES = ("Lincoln", "Roosevelt", "Jefferson", "Washington", "Franklin", "Kennedy",
                "Madison", "Adams", "Monroe", "Hamilton")
# The SIS categories: (sourcedId, title, status). cat-labs is being retired in the SIS.
CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("cat-tests", "Tests", "active"), ("cat-quizzes", "Quizzes", "active"),
    ("cat-homework", "Homework", "active"), ("cat-classwork", "Classwork", "active"),
    ("cat-projects", "Projects", "active"), ("cat-labs", "Labs", "tobedeleted"),
    ("cat-writing", "Writing", "active"),
)


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def build_course_table(con: duckdb.DuckDBPyConnection) -> None:
    """Table course_catalog: the 30 courses every school offers, by local index."""
    rows = ", ".join(f"({i}, {_q(t)}, {_q(c)}, {_q(g)})" for i, (t, c, g) in enumerate(COURSES))
    con.execute(f"CREATE TABLE course_catalog AS SELECT * FROM (VALUES {rows}) "
                "AS t(local, title, code, grades)")


def _structure_queries(cal: SchoolCalendar, district: str, name: str) -> dict[str, str]:
    """orgs, academicSessions, courses, classes and categories."""
    s1, s2 = cal.semesters
    sessions = ", ".join(
        f"({_q(s.sourced_id)}, {_q(s.title)}, {_q(s.type)}, DATE '{s.start}', DATE '{s.end}', "
        f"{_q(s.parent) if s.parent else 'NULL'}, {i})" for i, s in enumerate(cal.sessions))
    schools = "[" + ", ".join(_q(n) for n in SCHOOL_NAMES) + "]"
    terms = f"['{s1.sourced_id},{s2.sourced_id}', '{s1.sourced_id}', '{s2.sourced_id}']"
    categories = ", ".join(f"({_q(i)}, {_q(s)}, {_q(t)})" for i, t, s in CATEGORIES)
    stamp = f"'{cal.effective_date}T06:00:00Z'"
    blank = "NULL::VARCHAR"
    return {
        "orgs": f"""SELECT {_q(district + '-district')}, {blank}, {blank}, {_q(name)}, 'district',
                {_q(district.upper())}, {blank}, -1 AS ord
            UNION ALL SELECT 'sch' || school, NULL, NULL,
                {schools}[1 + school % {len(SCHOOL_NAMES)}] || ' High School'
                    || CASE WHEN school >= {len(SCHOOL_NAMES)}
                            THEN ' ' || (1 + school // {len(SCHOOL_NAMES)}) ELSE '' END,
                'school', 'S' || lpad((school + 1)::VARCHAR, 3, '0'),
                {_q(district + '-district')}, school FROM school
            ORDER BY ord""",
        "academicSessions": f"""SELECT sid, NULL, NULL, title, type, sd, ed, parent,
                '{cal.school_year_label}' FROM (VALUES {sessions})
                AS t(sid, title, type, sd, ed, parent, ord) ORDER BY ord""",
        "courses": f"""SELECT 'crs' || (s.school * 30 + c.local), NULL, NULL,
                '{cal.school_year.sourced_id}', c.title, c.code, c.grades, 'sch' || s.school,
                NULL, NULL
            FROM school s, course_catalog c ORDER BY s.school, c.local""",
        "classes": f"""SELECT 'cls' || k.class, NULL, NULL, c.title || ' - P' || (k.period + 1),
                c.grades, 'crs' || k.course, c.code || '-' || (k.period + 1) || '-'
                    || lpad((k.section + 1)::VARCHAR, 2, '0'), 'scheduled',
                'Room ' || (100 + k.teacher % 200), 'sch' || k.school, {terms}[1 + k.term_kind],
                NULL, NULL, (k.period + 1)::VARCHAR
            FROM class k JOIN course_catalog c ON c.local = k.course % 30
            WHERE k.in_sis ORDER BY k.class""",
        "categories": f"""SELECT sid, status, {stamp}, title FROM (VALUES {categories})
                AS t(sid, status, title) ORDER BY sid""",
    }


def _people_queries(cal: SchoolCalendar) -> dict[str, str]:
    """users.csv and enrollments.csv: teachers, students and who sits in which class."""
    s1, s2 = cal.semesters
    begin = f"[DATE '{s1.start}', DATE '{s1.start}', DATE '{s2.start}']"
    end = f"[DATE '{s2.end}', DATE '{s1.end}', DATE '{s2.end}']"
    return {
        "users": """SELECT 'tch' || t.teacher, NULL, NULL, 'true', 'sch' || t.school, 'teacher',
                split_part(u.email, '@', 1), NULL, t.given_name, t.family_name, NULL,
                'T' || lpad(t.teacher::VARCHAR, 6, '0'), u.email, NULL, NULL, NULL, NULL, NULL,
                0 AS o1, t.teacher AS o2
            FROM teacher t JOIN otus_user u ON u.user_id = 'ot' || t.teacher
            UNION ALL
            SELECT 'stu' || s.student, NULL, NULL, 'true', 'sch' || s.school, 'student',
                split_part(u.email, '@', 1), NULL, s.given_name, s.family_name, NULL,
                lpad((100000 + s.student)::VARCHAR, 7, '0'), u.email, NULL, NULL, NULL, s.grade,
                NULL, 1, s.student
            FROM student s JOIN otus_user u ON u.user_id = 'os' || s.student
            ORDER BY o1, o2""",
        "enrollments": f"""SELECT * FROM (
            SELECT 'enr-' || k.class || '-t' || k.teacher AS id, NULL, NULL, 'cls' || k.class,
                'sch' || k.school, 'tch' || k.teacher, 'teacher', 'true',
                {begin}[1 + k.term_kind], {end}[1 + k.term_kind], k.class AS o1, 0 AS o2
            FROM class k WHERE k.in_sis
            UNION ALL
            SELECT 'enr-' || k.class || '-t' || k.co_teacher, NULL, NULL, 'cls' || k.class,
                'sch' || k.school, 'tch' || k.co_teacher, 'teacher', 'false',
                {begin}[1 + k.term_kind], {end}[1 + k.term_kind], k.class, 1
            FROM class k WHERE k.in_sis AND k.co_teacher IS NOT NULL
            UNION ALL
            SELECT 'enr-' || e.class || '-' || e.student, NULL, NULL, 'cls' || e.class,
                'sch' || k.school, 'stu' || e.student, 'student', 'false',
                {begin}[1 + k.term_kind], {end}[1 + k.term_kind], e.class, 2 + e.student
            FROM enrollment e JOIN class k USING (class) WHERE e.in_sis AND e.class_in_sis)
            ORDER BY o1, o2""",
    }


def write_oneroster(con: duckdb.DuckDBPyConnection, folder: Path, cal: SchoolCalendar,
                    district: str, name: str) -> dict[str, int]:
    """Write manifest.csv and the seven roster files to `folder`; return rows per file."""
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    queries = {**_structure_queries(cal, district, name), **_people_queries(cal)}
    for entity in HEADERS:
        query = queries[entity]
        columns = HEADERS[entity]
        # Re-label the positional columns with the binding's exact header names.
        select = ", ".join(f'#{i + 1} AS "{c}"' for i, c in enumerate(columns))
        path = folder / f"{entity}.csv"
        written = con.execute(f"COPY (SELECT {select} FROM ({query})) TO '{path}' "
                              "(FORMAT csv, HEADER true)").fetchone()
        counts[entity] = int(written[0])
    manifest = ["propertyName,value", "manifest.version,1.0", "oneroster.version,1.1"]
    modes = {entity: "delta" if entity == "categories" else "bulk" for entity in HEADERS}
    modes.update(dict.fromkeys(ABSENT, "absent"))
    manifest += [f"file.{entity},{modes[entity]}" for entity in sorted(modes)]
    manifest += ["source.systemName,Passback generator", f"source.systemCode,{district}"]
    (folder / "manifest.csv").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    return counts
