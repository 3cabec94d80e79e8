"""The report's CSVs, written by DuckDB (COPY) from the scope's temporary tables
(`checks.report.data.prepare`), owner-readable only: they name teachers and students.

- `rejections.csv`: every rejection row of the scope with its record's category, except the
  scores that only follow from a refused line item (the line item's rows count them);
- `summary.csv`: records per category, per rule and per teacher (one long table);
- `sis_edits.csv`: what the SIS holds otherwise than Passback wrote it (passback.sync_drift);
- `teachers/<teacher>.csv` and `teachers.csv` (on request): each teacher's list for a mail
  merge, and an index with each teacher's e-mail, file and counts. Only these carry student
  names, and only when the district turns `report.student_names` on.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
from pathlib import Path

import duckdb

from checks.catalog import KIND_LABELS
from checks.report.data import ReportData
from checks.report.queries import (
    DRIFT_SQL,
    Scope,
    action_rows_sql,
    by_rule_sql,
    rows_sql,
)

_LABELS = "CASE {column} " + " ".join(
    f"WHEN '{name}' THEN '{label}'" for name, label in KIND_LABELS.items()) + " END"


def _rejections_sql(scope: Scope) -> str:
    # The scores that only wait on a refused line item are left out (one per score, they
    # would be most of the file): the line item's rows say how many wait on it, and
    # summary.csv counts them per rule and teacher. Unsorted (a spreadsheet sorts): sorting
    # hundreds of thousands of rows by their strings would double the time of the COPY.
    return f"""
SELECT {_LABELS.format(column="r.category")} AS category, r.rule, r.severity, r.entity,
       r.teacher_user_id, r.teacher_name, r.class_sourced_id, r.class_title, r.assignment_id,
       r.title, r.student_sourced_id, r.message, w.waiting AS scores_waiting
FROM ({rows_sql(scope, "category <> 'follows'")}) r
LEFT JOIN (SELECT assignment_id, count(*) AS waiting FROM report_records
           WHERE category = 'follows' GROUP BY ALL) w
  ON r.entity = 'line_item' AND w.assignment_id = r.assignment_id
"""


def _summary_sql(scope: Scope) -> str:
    return f"""
SELECT 'category' AS dimension, category AS key,
       {_LABELS.format(column="category")} AS label, category,
       count(*) FILTER (WHERE entity = 'line_item') AS line_items,
       count(*) FILTER (WHERE entity = 'result') AS results
FROM report_records GROUP BY ALL
UNION ALL
SELECT 'rule', rule, any_value(entity), any_value(kind), sum(rows) FILTER (entity = 'line_item'),
       sum(rows) FILTER (entity = 'result')
FROM ({by_rule_sql(scope)}) GROUP BY rule
UNION ALL
SELECT 'teacher', teacher_user_id, any_value(teacher_name), category,
       count(*) FILTER (WHERE entity = 'line_item'), count(*) FILTER (WHERE entity = 'result')
FROM report_named GROUP BY teacher_user_id, category
ORDER BY dimension, key, category
"""


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
NO_TEACHER = "no_teacher"


def teacher_file_key(teacher_user_id: str | None) -> str:
    """The file name (without .csv) of a teacher's list: the Otus user id, made path-safe."""
    return _SAFE.sub("_", teacher_user_id).strip("_") if teacher_user_id else NO_TEACHER


def _key_sql(column: str) -> str:
    return (f"coalesce(nullif(trim(regexp_replace({column}, '[^A-Za-z0-9_.-]+', '_', 'g'), "
            f"'_'), ''), '{NO_TEACHER}')")


def _teacher_rows_sql(scope: Scope, student_names: bool) -> str:
    # Every row that asks something of the teacher, with the scores that wait on each line
    # item; a score that only waits on its line item is counted there, not listed.
    name = ("nullif(trim(concat_ws(' ', s.given_name, s.family_name)), '') AS student_name, "
            if student_names else "")
    join = ("LEFT JOIN sis.users s ON s.district = $district "
            "AND s.sourced_id = a.student_sourced_id " if student_names else "")
    return f"""
SELECT {_key_sql("a.teacher_user_id")} AS teacher_key,
       {_LABELS.format(column="a.category")} AS category, a.class_title, a.title,
       a.student_sourced_id, {name}a.rule, a.message,
       CASE WHEN a.entity = 'line_item' THEN a.waiting END AS scores_waiting
FROM ({action_rows_sql(scope)}) a {join}
ORDER BY teacher_key, a.category_order, a.class_title, a.title, a.entity,
         a.student_sourced_id, a.rule
"""


_TEACHER_INDEX_SQL = f"""
SELECT r.teacher_user_id, any_value(r.teacher_name) AS teacher_name, any_value(u.email) AS email,
       'teachers/' || {_key_sql("r.teacher_user_id")} || '.csv' AS file,
       count(*) FILTER (WHERE r.category = 'fix') AS to_fix,
       count(*) FILTER (WHERE r.category = 'sis_refused') AS refused_by_the_sis,
       count(*) FILTER (WHERE r.category = 'follows') AS waiting_on_a_refused_assessment,
       count(*) FILTER (WHERE r.category = 'not_ready') AS not_ready,
       count(*) FILTER (WHERE r.category = 'notice') AS sent_with_a_note
FROM report_named r
LEFT JOIN otus.users u ON u.district = $district AND u.user_id = r.teacher_user_id
GROUP BY r.teacher_user_id ORDER BY teacher_name, r.teacher_user_id
"""


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def make_private_folder(folder: Path) -> None:
    """Create `folder` and every missing parent owner-only (mkdir's mode skips parents)."""
    for missing in reversed([f for f in (folder, *folder.parents) if not f.exists()]):
        missing.mkdir(mode=0o700, exist_ok=True)


def copy_private(conn: duckdb.DuckDBPyConnection, sql: str, path: Path,
                 params: dict[str, object] | None = None) -> Path:
    """COPY a query's rows to a CSV with a header, owner-only, replacing `path` whole (a
    reader never sees half a file). DuckDB creates files with the umask's mode; the folder is
    owner-only, so no one else can open the file before its chmod."""
    needed = {k: v for k, v in (params or {}).items() if f"${k}" in sql}
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    conn.execute(f"COPY ({sql}) TO {_literal(staging)} (FORMAT csv, HEADER)", needed)
    os.chmod(staging, 0o600)
    staging.replace(path)
    return path


def write_csvs(conn: duckdb.DuckDBPyConnection, data: ReportData, folder: Path) -> dict[str, Path]:
    """rejections.csv, summary.csv and (for a grading period) sis_edits.csv into `folder`."""
    make_private_folder(folder)
    scope = data.scope
    paths = {"summary_csv": copy_private(conn, _summary_sql(scope), folder / "summary.csv",
                                         scope.params()),
             "rejections_csv": copy_private(conn, _rejections_sql(scope),
                                            folder / "rejections.csv", scope.params())}
    if not scope.district_level:
        paths["drift_csv"] = copy_private(conn, DRIFT_SQL, folder / "sis_edits.csv",
                                          {"district": data.district,
                                           "gp": scope.grading_period})
    return paths


def write_teacher_files(conn: duckdb.DuckDBPyConnection, data: ReportData, folder: Path, *,
                        student_names: bool = False) -> dict[str, Path]:
    """`teachers/<teacher>.csv` (one per teacher with something to do) and the index
    `teachers.csv`, replacing the previous run's; returns both locations.

    DuckDB writes every teacher's rows into one CSV, sorted by teacher, which is then cut into
    the teachers' files, each rewritten in place: a large district has thousands of teachers,
    and creating, renaming or deleting as many files (what COPY's PARTITION_BY and a staging
    folder would do) costs seconds on a busy disk."""
    teachers = folder / "teachers"
    make_private_folder(teachers)
    staging = folder / f".teachers.{os.getpid()}.csv"
    sql = _teacher_rows_sql(data.scope, student_names)
    try:
        conn.execute(f"COPY ({sql}) TO {_literal(staging)} (FORMAT csv, HEADER)",
                     {k: v for k, v in data.scope.params().items() if f"${k}" in sql})
        written = _split_by_teacher(staging, teachers)
    finally:
        staging.unlink(missing_ok=True)
    for stale in teachers.glob("*.csv"):
        if stale.name not in written:
            stale.unlink()
    copy_private(conn, _TEACHER_INDEX_SQL, folder / "teachers.csv", {"district": data.district})
    return {"teachers_dir": teachers, "teachers_csv": folder / "teachers.csv"}


def _split_by_teacher(rows_csv: Path, teachers: Path) -> set[str]:
    """Cut a CSV sorted by its first column (the teacher's file key) into one owner-only file
    per key, without that column; returns the file names written."""
    written: set[str] = set()
    with rows_csv.open(newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        header = next(reader, None)
        if header is None:
            return written
        for key, rows in itertools.groupby(reader, key=lambda row: row[0]):
            name = f"{key}.csv"
            fd = os.open(teachers / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as target:
                out = csv.writer(target, lineterminator="\n")
                out.writerow(header[1:])
                out.writerows(row[1:] for row in rows)
            os.chmod(teachers / name, 0o600)  # a file from an older run keeps its mode
            written.add(name)
    return written
