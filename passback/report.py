"""`passback report`: the quality report of a district's grading periods, written again from
the warehouse without a run (read-only: nothing is sent, no table changes), and with
`--per-teacher` one CSV per teacher for a mail merge.

It writes where the `passback/quality_report` asset does (`$PASSBACK_REPORTS_DIR` or beside
the warehouse) and prints each report's headline and paths: counts and paths only, never a
student (names, when the district allows them, are in the teachers' files alone).
"""

from __future__ import annotations

import argparse
from datetime import date, datetime

from passback.history import CommandError, _district, _run, _warehouse

_PERIODS_SQL = """
SELECT DISTINCT grading_period_sourced_id FROM passback.rule_stats
WHERE district = ? ORDER BY 1
"""


def _report(args: argparse.Namespace) -> int:
    from assets.transform.quality_report import report_folder
    from checks.report.build import write_quality_report
    from checks.report.render import headline
    from pipeline.config import warehouse_path
    from pipeline.graph import grading_period_key
    from pipeline.sink.lookup import resolve_grading_period

    config = _district(args.district)
    connect = _warehouse(config.district)
    today = date.fromisoformat(args.as_of) if args.as_of else \
        datetime.now(config.zone).date()
    per_teacher = True if args.per_teacher else None  # None: the district's setting
    with connect() as conn:
        periods = [resolve_grading_period(conn, config.district, args.grading_period)] \
            if args.grading_period else [r[0] for r in conn.execute(
                _PERIODS_SQL, [config.district]).fetchall()]
        if not periods:
            raise CommandError(f"district {config.district} has no rules run in "
                               f"{warehouse_path()}: run `passback run --district "
                               f"{config.district}` first", code=1)
        for period in periods:
            folder = report_folder(str(warehouse_path()), config.district,
                                   grading_period_key(period))
            written = write_quality_report(conn, config, period, folder, today=today,
                                           per_teacher=per_teacher)
            state = "closed" if written.data.scope.closed else "open"
            print(f"{config.district} / {period} ({written.data.scope.title}, {state})")
            for sentence in headline(written.data):
                print(f"  {sentence}")
            for name, path in written.paths.items():
                print(f"  {name}: {path}")
    if written.district_level is not None:
        print(f"{config.district} / no grading period")
        for sentence in headline(written.district_level):
            print(f"  {sentence}")
        print(f"  html: {written.district_level_paths['html']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `report`."""
    report = subparsers.add_parser(
        "report", help="write the quality report again from the warehouse (--per-teacher: "
        "one CSV per teacher)",
        description="Write each grading period's quality report (or the one named) and the "
        "district-level one from the warehouse, read-only: nothing is sent. --per-teacher "
        "adds teachers/<teacher>.csv and teachers.csv for a mail merge (with student names "
        "only when the district's report.student_names is on).")
    report.add_argument("--district", required=True)
    report.add_argument("--grading-period", help="a grading period sourcedId or partition key "
                        "(default: every one the rules ran for)")
    report.add_argument("--per-teacher", action="store_true",
                        help="also write one CSV per teacher (default: the district's "
                        "report.per_teacher)")
    report.add_argument("--as-of", help="YYYY-MM-DD, for a period never run (default: the "
                        "date of the period's last rules run)")
    report.set_defaults(func=lambda args: _run(_report, args))
