"""Load a generated district (tooling.generate) into the raw otus.* / sis.* tables with DuckDB
read_csv, the way the extract layer would have left them: for end-to-end rules and report
tests, and for benchmarks of the stages after the extract (tooling/bench/quality_report.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.warehouse import ensure_schema

# raw table -> SELECT list over the OneRoster bulk CSV (camelCase columns).
_ONEROSTER: dict[str, tuple[str, str]] = {
    "orgs": ("orgs", "sourcedId AS sourced_id, status, name, type, identifier, "
                     "parentSourcedId AS parent_sourced_id"),
    "academic_sessions": ("academicSessions",
                          "sourcedId AS sourced_id, status, title, type, startDate AS start_date, "
                          "endDate AS end_date, parentSourcedId AS parent_sourced_id, "
                          "schoolYear AS school_year"),
    "courses": ("courses", "sourcedId AS sourced_id, status, title, courseCode AS course_code, "
                           "schoolYearSourcedId AS school_year_sourced_id, "
                           "orgSourcedId AS org_sourced_id"),
    "classes": ("classes", "sourcedId AS sourced_id, status, title, classCode AS class_code, "
                           "classType AS class_type, courseSourcedId AS course_sourced_id, "
                           "schoolSourcedId AS school_sourced_id, "
                           "string_split(termSourcedIds, ',') AS term_sourced_ids"),
    "users": ("users", "sourcedId AS sourced_id, status, enabledUser AS enabled_user, username, "
                       "givenName AS given_name, familyName AS family_name, role, email, "
                       "string_split(orgSourcedIds, ',') AS org_sourced_ids"),
    "enrollments": ("enrollments", "sourcedId AS sourced_id, status, "
                                   "classSourcedId AS class_sourced_id, "
                                   "schoolSourcedId AS school_sourced_id, "
                                   "userSourcedId AS user_sourced_id, role, \"primary\", "
                                   "beginDate AS begin_date, endDate AS end_date"),
    "categories": ("categories", "sourcedId AS sourced_id, status, title"),
}
_OTUS = ("users", "passback_group", "assessments", "class_assignments", "scores")


def load_generated(otus_dir: Path, oneroster_dir: Path, db: Path, district: str) -> None:
    """Insert every generated file into the raw otus.* / sis.* tables of `db`."""
    with duckdb.connect(str(db)) as conn:
        ensure_schema(conn)
        for table in _OTUS:
            source = f"read_csv('{otus_dir / (table + '.csv')}', all_varchar = true)"
            conn.execute(f"INSERT INTO otus.{table} BY NAME SELECT '{district}' AS district, * "
                         f"FROM {source}")
        for table, (name, columns) in _ONEROSTER.items():
            source = f"read_csv('{oneroster_dir / (name + '.csv')}', all_varchar = true)"
            conn.execute(f"INSERT INTO sis.{table} BY NAME SELECT '{district}' AS district, "
                         f"{columns} FROM {source}")
