"""Write the Otus gradebook export (../shared/otus-gradebook-export.md) with DuckDB COPY.

CSV timestamps are ISO 8601: scores in UTC with `Z` (a cheap cast, for millions of rows);
the smaller files mix `Z` and the local offset per row.
Parquet timestamps are TIMESTAMP WITH TIME ZONE (UTC).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

ISO_Z = "%Y-%m-%dT%H:%M:%SZ"


def build_otus_users(con: duckdb.DuckDBPyConnection, district: str, tz: str,
                     joined_by: date) -> None:
    """Table otus_user: students, teachers and two Otus-only administrators (no SIS id)."""
    domain = f"{district}.example.org"
    email = ("lower(replace(given_name || '.' || family_name, '''', '')) || {id} "
             f"|| '@{domain}'")
    con.execute(f"""CREATE TABLE otus_user AS
        SELECT 'ot' || teacher AS user_id, 'tch' || teacher AS sis_sourced_id, 'teacher' AS role,
               given_name, family_name, {email.format(id='teacher')} AS email, in_group,
               1 AS sort_group, teacher AS sort_key
        FROM teacher
        UNION ALL
        SELECT 'os' || student, 'stu' || student, 'student', given_name, family_name,
               {email.format(id='student')}, false, 2, student FROM student
        UNION ALL
        SELECT * FROM (VALUES
            ('oa1', NULL, 'administrator', 'Dana', 'Whitfield', 'dana.whitfield@{domain}',
             true, 0, 1),
            ('oa2', NULL, 'administrator', 'Lee', 'Okonkwo', 'lee.okonkwo@{domain}',
             false, 0, 2))""")
    # Group members joined before the school year, at any hour (some just before midnight).
    con.execute(f"""CREATE TABLE passback_group AS
        SELECT user_id, sort_group, sort_key, local,
               timezone('{tz}', local)::TIMESTAMP AS utc,
               u01('z', sort_key, sort_group) < 0.5 AS zulu
        FROM (SELECT *, (DATE '{joined_by}' - 1 - pick('join', sort_key, sort_group, 21))::TIMESTAMP
                        + to_seconds(CASE WHEN u01('late', sort_key, sort_group) < 0.15
                                          THEN 23 * 3600 + 1800 + pick('js', sort_key, 0, 1799)
                                          ELSE 8 * 3600 + pick('js', sort_key, 0, 36000) END)
                        AS local
              FROM otus_user WHERE in_group)""")


def iso_sql(local: str, utc: str, zulu: str) -> str:
    """SQL text formatting one timestamp as ISO 8601, in UTC with Z or local with its offset."""
    minutes = f"date_diff('minute', {utc}, {local})"
    offset = (f"printf('%s%02d:%02d', CASE WHEN {minutes} < 0 THEN '-' ELSE '+' END, "
              f"abs({minutes}) // 60, abs({minutes}) % 60)")
    return (f"CASE WHEN {utc} IS NULL THEN NULL WHEN {zulu} THEN strftime({utc}, '{ISO_Z}') "
            f"ELSE strftime({local}, '%Y-%m-%dT%H:%M:%S') || {offset} END")


def _ts(fmt: str, name: str, zulu: str = "zulu") -> str:
    """The output expression of timestamp `name` (columns `<name>_local` and `<name>_utc`)."""
    if fmt == "parquet":
        return f"timezone('UTC', {name}_utc) AS {name}"
    return f"{iso_sql(name + '_local', name + '_utc', zulu)} AS {name}"


def _fast_ts(fmt: str, name: str) -> str:
    """A whole-second UTC TIMESTAMP column as ISO 8601 with Z, the cheap way for millions."""
    if fmt == "parquet":
        return f"{name}::TIMESTAMPTZ AS {name}"
    # A cast plus two string edits is about twice as fast as strftime or TIMESTAMP_FORMAT.
    return f"replace({name}::VARCHAR, ' ', 'T') || 'Z' AS {name}"


def _copy(con: duckdb.DuckDBPyConnection, query: str, path: Path, fmt: str) -> int:
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
    # COPY answers with the number of rows it wrote.
    return int(con.execute(f"COPY ({query}) TO '{path}' ({options})").fetchone()[0])


def write_otus(con: duckdb.DuckDBPyConnection, folder: Path, fmt: str) -> dict[str, int]:
    """Write the five Otus entities to `folder`; return rows per entity."""
    folder.mkdir(parents=True, exist_ok=True)
    queries = {
        "users": """SELECT user_id, sis_sourced_id, role, given_name, family_name, email
                    FROM otus_user ORDER BY sort_group, sort_key""",
        "passback_group": f"""SELECT user_id, {_ts(fmt, 'added_at')} FROM (
                    SELECT user_id, sort_group, sort_key, zulu, local AS added_at_local,
                           utc AS added_at_utc FROM passback_group)
                    ORDER BY sort_group, sort_key""",
        "assessments": f"""SELECT 'as' || a AS assessment_id, title, assessment_type,
                    grading_method, points_possible, include_in_final_grade,
                    created_by, {_ts(fmt, 'updated_at')}, {_ts(fmt, 'deleted_at')}
                    FROM assessment_out ORDER BY a""",
        "class_assignments": f"""SELECT 'ca' || ca AS assignment_id, 'as' || a AS assessment_id,
                    'cls' || class AS class_sourced_id, assigned_by, {_ts(fmt, 'assigned_at')},
                    {_ts(fmt, 'go_live_at')}, {_ts(fmt, 'due_at')}, {_ts(fmt, 'updated_at')},
                    {_ts(fmt, 'deleted_at')}
                    FROM class_assignment_out ORDER BY ca""",
        "scores": f"""SELECT assignment_id, student_sourced_id,
                    status, points_earned, excluded, late, missing,
                    {_fast_ts(fmt, 'graded_at')}, comment, {_fast_ts(fmt, 'updated_at')}
                    FROM score""",
    }
    ext = "parquet" if fmt == "parquet" else "csv"
    return {name: _copy(con, query, folder / f"{name}.{ext}", fmt)
            for name, query in queries.items()}


def build_output_views(con: duckdb.DuckDBPyConnection, tz: str) -> None:
    """Views assessment_out and class_assignment_out: local and UTC pairs per timestamp."""
    con.execute(f"""CREATE VIEW assessment_out AS
        SELECT a.*, 'ot' || a.teacher AS created_by, u01('z', a.a, 1) < 0.5 AS zulu,
               updated_local AS updated_at_local, timezone('{tz}', updated_local)::TIMESTAMP
                   AS updated_at_utc,
               deleted_local AS deleted_at_local, timezone('{tz}', deleted_local)::TIMESTAMP
                   AS deleted_at_utc
        FROM assessment a""")
    con.execute("""CREATE VIEW class_assignment_out AS
        SELECT ca, a, class, assigned_by, zulu,
               assigned_local AS assigned_at_local, assigned_utc AS assigned_at_utc,
               go_live_local AS go_live_at_local, go_live_utc AS go_live_at_utc,
               CASE WHEN NOT due_at_null THEN due_local END AS due_at_local,
               CASE WHEN NOT due_at_null THEN due_utc END AS due_at_utc,
               updated_local AS updated_at_local, updated_utc AS updated_at_utc,
               deleted_local AS deleted_at_local, deleted_utc AS deleted_at_utc
        FROM class_assignment""")
