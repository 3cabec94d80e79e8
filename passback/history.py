"""`passback plan` and `passback history`: what the next run would do, and what was sent.

Both read the warehouse read-only (nothing is written, nothing is sent to the SIS) and print
`--format table` (default), `csv` or `json`. No student names: students and classes appear by
sourcedId. The queries are in `pipeline.sink.lookup`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import date
from typing import Any

import duckdb

from pipeline.config import (
    ConfigError,
    DistrictConfig,
    load_districts,
    mappings_dir,
    warehouse_path,
)

FORMATS = ("table", "csv", "json")
Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


class CommandError(Exception):
    """A problem the user can fix, said in one message; the command exits with `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# -- Formats ---------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows under a header, each column as wide as its widest cell."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    lines = ["  ".join(name.ljust(w) for name, w in zip(columns, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def render_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """RFC 4180 CSV with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue()


def render_json(document: Any) -> str:
    """Indented JSON; dates and timestamps as ISO 8601."""
    return json.dumps(document, indent=2, default=_cell)


# -- Shared ----------------------------------------------------------------------------------

def _district(name: str) -> DistrictConfig:
    districts = load_districts()
    if name not in districts:
        raise CommandError(f"district {name!r} is not configured in {mappings_dir()}; known: "
                           f"{', '.join(sorted(districts)) or 'none'}")
    return districts[name]


def _warehouse(district: str) -> Connect:
    """Read-only connections to the warehouse; a clear error when there is none."""
    from pipeline.sink.ledger import patient
    from pipeline.warehouse import connect

    path = warehouse_path()
    if not path.is_file():
        raise CommandError(f"no warehouse at {path} (PASSBACK_WAREHOUSE): nothing has run "
                           f"here yet; run `passback run --district {district}` first")
    return patient(lambda: connect(path, read_only=True))


def _missing_table(error: duckdb.CatalogException) -> CommandError:
    return CommandError(f"the warehouse at {warehouse_path()} predates the sink's history "
                        f"tables ({error}); the next `passback run` creates them")


def _run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return func(args)
    except CommandError as error:
        print(f"passback {args.command}: {error}", file=sys.stderr)
        return error.code
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    except ValueError as error:  # a bad date, an unknown grading period
        print(f"passback {args.command}: {error}", file=sys.stderr)
        return 2
    except duckdb.CatalogException as error:
        failure = _missing_table(error)
        print(f"passback {args.command}: {failure}", file=sys.stderr)
        return failure.code


# -- passback plan ---------------------------------------------------------------------------

PLAN_COLUMNS = ("grading_period", "action", "entity", "sourced_id", "line_item_sourced_id",
                "class_sourced_id", "student_sourced_id", "changes", "reason")


def _changes_text(changes: list[dict[str, Any]]) -> str:
    return "; ".join(f"{c['field']}: {_cell(c['old']) or '(none)'} -> "
                     f"{_cell(c['new']) or '(none)'}" for c in changes)


def plan_document(config: DistrictConfig, grading_period: str | None, as_of: date | None,
                  connect: Connect) -> dict[str, Any]:
    """What the next run would do for each grading period, as plain values."""
    from pipeline.sink import plan_sync
    from pipeline.sink.lookup import district_grading_periods, plan_changes, resolve_grading_period

    with connect() as conn:
        periods = [resolve_grading_period(conn, config.district, grading_period)] \
            if grading_period else district_grading_periods(conn, config.district)
    if not periods:
        raise CommandError(f"district {config.district} has no accepted or ledger rows in "
                           f"{warehouse_path()}: run `passback run --district "
                           f"{config.district}` first", code=1)
    found = []
    for period in periods:
        plan = plan_sync(config, period, connect=connect, as_of=as_of)
        with connect() as conn:
            changes = plan_changes(conn, plan)
        found.append({"grading_period": period, "closed": plan.closed,
                      "counts": plan.counts(), "planned_requests": plan.planned_requests,
                      "actions": [c.as_dict() for c in changes]})
    return {"district": config.district, "as_of": (as_of or date.today()).isoformat(),
            "grading_periods": found}


def _plan_rows(document: dict[str, Any]) -> Iterator[list[Any]]:
    for period in document["grading_periods"]:
        for action in period["actions"]:
            yield [action[name] if name != "changes" else _changes_text(action["changes"])
                   for name in PLAN_COLUMNS]


def format_plan(document: dict[str, Any], fmt: str) -> str:
    """A plan document as table (counts per action on top), csv (one row per object) or
    json."""
    if fmt == "json":
        return render_json(document)
    if fmt == "csv":
        return render_csv(PLAN_COLUMNS, list(_plan_rows(document)))
    parts = []
    for period in document["grading_periods"]:
        closed = " (closed: nothing is written)" if period["closed"] else ""
        parts.append(f"{document['district']} / {period['grading_period']}{closed}: "
                     f"{period['planned_requests']} request(s) planned as of "
                     f"{document['as_of']}; nothing was sent")
        parts.append(render_table(("action", "count"), list(period["counts"].items())))
        single = {**document, "grading_periods": [period]}
        rows = list(_plan_rows(single))
        parts.append(render_table(PLAN_COLUMNS[1:], [row[1:] for row in rows])
                     if rows else "(nothing to change)")
        parts.append("")
    return "\n".join(parts)


def _plan(args: argparse.Namespace) -> int:
    config = _district(args.district)
    as_of = date.fromisoformat(args.as_of) if args.as_of else None
    document = plan_document(config, args.grading_period, as_of, _warehouse(config.district))
    print(format_plan(document, args.format))
    return 0


# -- passback history ------------------------------------------------------------------------

# The table leaves out what only a machine reads (hash, answer time; csv and json have them).
TABLE_HISTORY_COLUMNS = ("requested_at", "run_id", "action", "entity", "sourced_id",
                         "line_item_sourced_id", "class_sourced_id", "student_sourced_id",
                         "http_status", "state", "attempts", "description")


def history_rows(config: DistrictConfig, args: argparse.Namespace,
                 connect: Connect) -> list[dict[str, Any]]:
    """The requests `args` asks for (newest first); a clear error when there are none."""
    from pipeline.sink.lookup import assignment_line_items, sent_history

    since = date.fromisoformat(args.since) if args.since else None
    with connect() as conn:
        line_items = assignment_line_items(conn, config.district, args.assignment) \
            if args.assignment else None
        rows = sent_history(conn, config.district, student=args.student,
                            line_items=line_items, class_sourced_id=args.class_sourced_id,
                            since=since, limit=args.limit)
    if not rows:
        asked = [f"{name} {value}" for name, value in (
            ("student", args.student), ("assignment", args.assignment),
            ("class", args.class_sourced_id), ("since", args.since)) if value]
        raise CommandError(f"no write requests recorded for district {config.district}"
                           f"{' matching ' + ', '.join(asked) if asked else ''} in "
                           f"{warehouse_path()}", code=1)
    return rows


def format_history(rows: list[dict[str, Any]], fmt: str) -> str:
    """History rows as table, csv or json."""
    from pipeline.sink.lookup import HISTORY_COLUMNS

    if fmt == "json":
        return render_json(rows)
    if fmt == "csv":
        return render_csv(HISTORY_COLUMNS, [[row[name] for name in HISTORY_COLUMNS]
                                            for row in rows])
    return render_table(TABLE_HISTORY_COLUMNS, [[row[name] for name in TABLE_HISTORY_COLUMNS]
                                                for row in rows])


def _history(args: argparse.Namespace) -> int:
    config = _district(args.district)
    rows = history_rows(config, args, _warehouse(config.district))
    print(format_history(rows, args.format))
    return 0


# -- Registration ----------------------------------------------------------------------------

def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `plan` and `history`."""
    plan = subparsers.add_parser(
        "plan", help="print what the next sync would do, without sending or writing anything",
        description="Plan each grading period of the district (or the one named) from the "
        "warehouse: creates, updates with old -> new values, restores, deletes, drift. Reads "
        "the warehouse read-only and sends nothing.")
    plan.add_argument("--district", required=True)
    plan.add_argument("--grading-period", help="a grading period sourcedId or partition key "
                      "(default: every one with accepted or ledger rows)")
    plan.add_argument("--as-of", help="YYYY-MM-DD (default: today)")
    plan.add_argument("--format", choices=FORMATS, default="table")
    plan.set_defaults(func=lambda args: _run(_plan, args))

    history = subparsers.add_parser(
        "history", help="print what was sent to the SIS and what it answered, newest first",
        description="Every write request recorded in passback.sync_events for the district, "
        "newest first, with the SIS's status and description.")
    history.add_argument("--district", required=True)
    which = history.add_mutually_exclusive_group()
    which.add_argument("--student", help="a student sourcedId")
    which.add_argument("--assignment", help="a line item sourcedId or an Otus assignment id")
    which.add_argument("--class", dest="class_sourced_id", help="a class sourcedId")
    history.add_argument("--since", help="YYYY-MM-DD: requests from that day on (UTC)")
    history.add_argument("--limit", type=int, help="at most this many rows")
    history.add_argument("--format", choices=FORMATS, default="table")
    history.set_defaults(func=lambda args: _run(_history, args))
