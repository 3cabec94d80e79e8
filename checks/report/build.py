"""One quality report written end to end: a grading period's page and CSVs (and, on request,
the teachers' files), and the district-level report of the rows without a grading period,
which every period's report links to and none counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from checks.report.data import DISTRICT_LEVEL, ReportData, load_report_data
from checks.report.files import write_csvs, write_teacher_files
from checks.report.render import write_html
from pipeline.config import DistrictConfig
from pipeline.grading_periods import grading_periods

# The as-of date of the partition's latest rules run: the report judges "closed" as it did.
_AS_OF_SQL = """
SELECT as_of FROM passback.rule_stats
WHERE district = ? AND grading_period_sourced_id = ? ORDER BY computed_at DESC LIMIT 1
"""


@dataclass(frozen=True)
class PeriodState:
    """A grading period as the report presents it."""

    title: str
    closed: bool
    as_of: date


@dataclass
class WrittenReport:
    """What one report run wrote, and the numbers its metadata carries."""

    data: ReportData
    paths: dict[str, Path]
    district_level: ReportData | None = None
    district_level_paths: dict[str, Path] = field(default_factory=dict)


def period_state(conn: duckdb.DuckDBPyConnection, config: DistrictConfig,
                 grading_period: str, today: date) -> PeriodState:
    """Title and closed state on the as-of date of the partition's last rules run (else
    `today`), by the one definition of closed (`pipeline.grading_periods`)."""
    found = conn.execute(_AS_OF_SQL, [config.district, grading_period]).fetchall()
    as_of = found[0][0] if found else today
    for period in grading_periods(conn, config, as_of):
        if period.sourced_id == grading_period:
            return PeriodState(period.title or grading_period, period.closed, as_of)
    return PeriodState(grading_period, False, as_of)


def district_level_folder(period_folder: Path) -> Path:
    """Where the district-level report lives: beside the district's grading periods."""
    return period_folder.parent / DISTRICT_LEVEL


def write_quality_report(conn: duckdb.DuckDBPyConnection, config: DistrictConfig,
                         grading_period: str, folder: Path, *, today: date,
                         per_teacher: bool | None = None) -> WrittenReport:
    """The grading period's report into `folder` and the district-level one beside it.

    `per_teacher` None: the district's `report.per_teacher` decides. Student names go into
    the teachers' files only, and only when the district's `report.student_names` is on.
    """
    per_teacher = config.report.per_teacher if per_teacher is None else per_teacher
    state = period_state(conn, config, grading_period, today)
    written = _write_scope(conn, config, grading_period, folder, state, per_teacher,
                           link="../" + DISTRICT_LEVEL + "/quality_report.html")
    # Rewritten by every period's run from the same rows (the rules run replaces them for the
    # whole district each time), so it always matches the latest run.
    level = _write_scope(conn, config, None, district_level_folder(folder),
                         PeriodState("Not in any grading period", False, state.as_of),
                         per_teacher, link=None)
    return WrittenReport(data=written.data, paths=written.paths,
                         district_level=level.data, district_level_paths=level.paths)


def _write_scope(conn: duckdb.DuckDBPyConnection, config: DistrictConfig,
                 grading_period: str | None, folder: Path, state: PeriodState,
                 per_teacher: bool, link: str | None) -> WrittenReport:
    data = load_report_data(conn, config.district, grading_period, title=state.title,
                            closed=state.closed, as_of=state.as_of)
    paths = write_report(conn, data, folder, per_teacher=per_teacher,
                         student_names=config.report.student_names, district_level_link=link)
    return WrittenReport(data=data, paths=paths)


def write_report(conn: duckdb.DuckDBPyConnection, data: ReportData, folder: Path, *,
                 per_teacher: bool = False, student_names: bool = False,
                 district_level_link: str | None = None) -> dict[str, Path]:
    """The page and CSVs of loaded report data (on the connection that loaded it, whose
    temporary tables the CSVs read) into `folder`; the teachers' files too when asked, except
    for a closed grading period, which asks nothing of teachers."""
    paths = write_csvs(conn, data, folder)
    teacher_files = per_teacher and not data.scope.closed
    if teacher_files:
        paths |= write_teacher_files(conn, data, folder, student_names=student_names)
    paths["html"] = write_html(
        data, folder, teacher_files=teacher_files,
        district_level_link=district_level_link if data.district_level else None)
    return paths
