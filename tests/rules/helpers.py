"""A small builder for rules tests: a district whose every record passes, written straight
into the raw otus.* / sis.* tables of a DuckDB file in tmp_path. A test changes one thing
and asserts which rule fires (and that nothing else does). Fixtures live in conftest.py."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from assets.transform.rules_run import PartitionRun, compute_partition, write_partition
from pipeline.graph import store_grading_period_keys
from pipeline.profiles import OTUS_ASSESSMENT_TYPES
from pipeline.rule_settings import RunSettings
from pipeline.warehouse import ensure_schema

Row = dict[str, Any]
AS_OF = date(2026, 10, 1)
EFFECTIVE = date(2026, 8, 17)

BASE: dict[str, list[Row]] = {
    "sis.academic_sessions": [
        {"sourced_id": "sy", "type": "schoolYear", "start_date": "2026-08-01",
         "end_date": "2027-06-30", "school_year": "2027", "status": "active"},
        {"sourced_id": "t1", "type": "term", "start_date": "2026-08-10",
         "end_date": "2026-12-18", "parent_sourced_id": "sy", "school_year": "2027",
         "status": "active"},
        {"sourced_id": "gp1", "type": "gradingPeriod", "title": "Q1", "start_date": "2026-08-10",
         "end_date": "2026-10-16", "parent_sourced_id": "t1", "school_year": "2027",
         "status": "active", "grading_window_open": True},
        {"sourced_id": "gp2", "type": "gradingPeriod", "title": "Q2", "start_date": "2026-10-19",
         "end_date": "2026-12-18", "parent_sourced_id": "t1", "school_year": "2027",
         "status": "active", "grading_window_open": True},
    ],
    "sis.classes": [{"sourced_id": "c1", "title": "Algebra 1", "status": "active",
                     "school_sourced_id": "sch1", "term_sourced_ids": ["t1"]}],
    "sis.users": [{"sourced_id": "tch1", "role": "teacher", "status": "active"},
                  {"sourced_id": "s1", "role": "student", "status": "active"},
                  {"sourced_id": "s2", "role": "student", "status": "active"}],
    "sis.enrollments": [
        {"sourced_id": "e1", "class_sourced_id": "c1", "user_sourced_id": "s1",
         "role": "student", "status": "active"},
        {"sourced_id": "e2", "class_sourced_id": "c1", "user_sourced_id": "s2",
         "role": "student", "status": "active"},
    ],
    "sis.categories": [{"sourced_id": "cat-tests", "title": "Tests", "status": "active"}],
    "otus.users": [{"user_id": "u1", "sis_sourced_id": "tch1", "role": "teacher",
                    "given_name": "Ada", "family_name": "Lovelace"}],
    "otus.passback_group": [{"user_id": "u1", "added_at": "2026-08-01T00:00:00Z"}],
    "otus.assessments": [
        {"assessment_id": "a1", "title": "Unit 1 test", "assessment_type": "Test",
         "grading_method": "points", "points_possible": 10.0, "include_in_final_grade": True,
         "created_by": "u1", "updated_at": "2026-09-01T15:00:00Z"}],
    "otus.class_assignments": [
        {"assignment_id": "ca1", "assessment_id": "a1", "class_sourced_id": "c1",
         "assigned_by": "u1", "assigned_at": "2026-09-01T15:00:00Z",
         "due_at": "2026-09-08T15:00:00Z", "updated_at": "2026-09-01T15:00:00Z"}],
    "otus.scores": [
        {"assignment_id": "ca1", "student_sourced_id": sid, "status": "graded",
         "points_earned": points, "excluded": False, "graded_at": "2026-09-09T15:00:00Z",
         "updated_at": "2026-09-09T15:00:00Z"} for sid, points in (("s1", 8.0), ("s2", 9.5))],
}


@dataclass
class World:
    """One district's raw rows (a passing district until a test edits it)."""

    profile: str = "infinite_campus"
    district: str = "demo"
    time_zone: str = "America/Chicago"
    effective_date: date = EFFECTIVE
    closed: tuple[str, ...] = ()
    close_days_after_end: int | None = None
    categories: dict[str, str | None] = field(
        default_factory=lambda: dict.fromkeys(OTUS_ASSESSMENT_TYPES, "cat-tests"))
    tables: dict[str, list[Row]] = field(default_factory=lambda: copy.deepcopy(BASE))

    def first(self, table: str) -> Row:
        """The first row of a table, to edit in place."""
        return self.tables[table][0]

    def settings(self, as_of: date = AS_OF) -> RunSettings:
        """RunSettings as the asset would build them from the district file."""
        return RunSettings(
            district=self.district, time_zone=self.time_zone, profile=self.profile,
            effective_date=self.effective_date, as_of=as_of, closed_listed=self.closed,
            use_sis_grading_window=True, close_days_after_end=self.close_days_after_end,
            categories=self.categories)

    def save(self, path: Path) -> Path:
        """Write every row into a (new or existing) warehouse file."""
        with duckdb.connect(str(path)) as conn:
            ensure_schema(conn)
            for table, rows in self.tables.items():
                for row in rows:
                    row = {"district": self.district, **row}
                    names = ", ".join(f'"{k}"' for k in row)
                    marks = ", ".join("?" for _ in row)
                    conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                                 list(row.values()))
            store_grading_period_keys(conn, self.district)  # as the sessions extract does
        return path


@dataclass
class Outcome:
    """What one partition run left in the passback tables."""

    run: PartitionRun
    line_items: pd.DataFrame
    results: pd.DataFrame
    rejections: pd.DataFrame

    def rules(self, assignment_id: str = "ca1", student: str | None = None) -> set[str]:
        """Rule ids recorded for a line item (student None) or one student's score."""
        r = self.rejections
        mask = r["assignment_id"] == assignment_id
        mask &= r["student_sourced_id"].isna() if student is None else (
            r["student_sourced_id"] == student)
        return set(r.loc[mask, "rule"])

    def severity(self, rule: str) -> set[str]:
        """Severities recorded for a rule."""
        return set(self.rejections.loc[self.rejections["rule"] == rule, "severity"])

    def message(self, rule: str) -> str:
        """The (first) teacher-facing message recorded for a rule."""
        return str(self.rejections.loc[self.rejections["rule"] == rule, "message"].iloc[0])

    def accepted(self, assignment_id: str = "ca1") -> bool:
        """Whether the class assignment reached passback.line_items."""
        return assignment_id in set(self.line_items["assignment_id"])


def run_rules(world: World, path: Path, gp: str = "gp1", as_of: date = AS_OF) -> Outcome:
    """Save the world (if new), run one partition, and read the tables back."""
    if not path.exists():
        world.save(path)
    with duckdb.connect(str(path)) as conn:
        run = compute_partition(conn, world.settings(as_of), gp)
        assert run.checks.ok, run.checks.problems
        assert write_partition(conn, run, uuid.uuid4().hex) == 0
        frames = [conn.sql(f"SELECT * FROM passback.{t}").to_arrow_table()
                  .to_pandas(date_as_object=False)
                  for t in ("line_items", "results", "rejections")]
    return Outcome(run, *frames)
