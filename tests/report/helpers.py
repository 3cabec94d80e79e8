"""A generated district run through the rules (as the `passback_rules` asset writes them),
with every grading period's quality report written, for the report and browser tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from assets.transform.rules_run import compute_partition, write_partition
from checks.evaluate import CATALOG
from checks.report.build import WrittenReport, write_quality_report
from checks.report.data import CATEGORIES
from checks.sis_rules import SIS_RULES
from pipeline.config import DistrictConfig, load_district_file
from pipeline.graph import grading_period_key
from pipeline.rule_settings import RunSettings
from tests.rules.generated import load_generated

AS_OF = date(2026, 11, 2)
KINDS = {rule.id: rule.kind for rule in (*CATALOG, *SIS_RULES)}


@dataclass
class District:
    """The generated district, its warehouse, and the reports written from it."""

    config: DistrictConfig
    db: Path
    reports: Path
    periods: list[str]
    closed: list[str]
    written: dict[str, WrittenReport] = field(default_factory=dict)

    def folder(self, period: str) -> Path:
        """Where a grading period's report is."""
        return self.reports / self.config.district / grading_period_key(period)


def run_generated(root: Path, *, students: int = 60, seed: int = 3,
                  profile: str = "infinite_campus", per_teacher: bool = True,
                  student_names: bool = False) -> District:
    """Generate, load and run the rules for every grading period, then write the reports."""
    from tooling.generate import generate_district

    made = generate_district(root / "gen", students=students, seed=seed, profile=profile,
                             as_of=AS_OF)
    db = root / "warehouse.duckdb"
    load_generated(made.otus_dir, made.oneroster_dir, db, made.district)
    config = load_district_file(made.mapping_file)
    if student_names:
        config = config.model_copy(update={"report": config.report.model_copy(
            update={"student_names": True})})
    settings = RunSettings.from_config(config, made.as_of)
    district = District(config=config, db=db, reports=root / "reports", periods=[],
                        closed=list(made.closed_grading_periods))
    with duckdb.connect(str(db)) as conn:
        district.periods = [r[0] for r in conn.sql(
            "SELECT sourced_id FROM sis.academic_sessions WHERE type = 'gradingPeriod' "
            "ORDER BY start_date").fetchall()]
        for period in district.periods:
            run = compute_partition(conn, settings, period)
            assert run.checks.ok, run.checks.problems
            assert write_partition(conn, run, f"run-{period}") == 0
        for period in district.periods:
            district.written[period] = write_quality_report(
                conn, config, period, district.folder(period), today=AS_OF,
                per_teacher=per_teacher)
    return district


def _weight(rule: str, severity: str) -> int:
    kind = "notice" if severity == "warn" else KINDS.get(rule, "fix")
    return len(CATEGORIES) - CATEGORIES.index(kind)


def categories_by_sql(db: Path, district: str, period: str | None) -> dict[tuple[str, str], int]:
    """Records per (category, entity), computed apart from the report's SQL: each record's
    rows from passback.rejections, its category the weightiest kind among them."""
    where = "grading_period_sourced_id IS NULL" if period is None else \
        "grading_period_sourced_id = $gp"
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute(
            f"SELECT entity, assignment_id, coalesce(student_sourced_id, ''), rule, severity "
            f"FROM passback.rejections WHERE district = $district AND {where}",
            {"district": district} | ({} if period is None else {"gp": period})).fetchall()
    weight: dict[tuple[str, str, str], int] = {}
    for entity, assignment, student, rule, severity in rows:
        key = (entity, assignment, student)
        weight[key] = max(weight.get(key, 0), _weight(rule, severity))
    counts: dict[tuple[str, str], int] = {}
    for (entity, _a, _s), w in weight.items():
        category = CATEGORIES[len(CATEGORIES) - w]
        counts[(category, entity)] = counts.get((category, entity), 0) + 1
    return counts



def teacher_rows_by_sql(db: Path, period: str) -> dict[str, int]:
    """Rows each teacher's file should list: a record's rows of its weightiest kind, except
    scores that only follow from a refused line item."""
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute(
            "SELECT entity, assignment_id, coalesce(student_sourced_id, ''), rule, severity, "
            "teacher_user_id FROM passback.rejections WHERE grading_period_sourced_id = ?",
            [period]).fetchall()
    top: dict[tuple[str, str, str], int] = {}
    for entity, assignment, student, rule, severity, _teacher in rows:
        key = (entity, assignment, student)
        top[key] = max(top.get(key, 0), _weight(rule, severity))
    follows = len(CATEGORIES) - CATEGORIES.index("follows")
    counts: dict[str, int] = {}
    for entity, assignment, student, rule, severity, teacher in rows:
        w = _weight(rule, severity)
        if w == top[(entity, assignment, student)] and w != follows:
            counts[teacher] = counts.get(teacher, 0) + 1
    return counts
