"""The sink's history: every write request in `passback.sync_events`, every run in
`passback.sync_runs`, and the write-ahead journal that makes the events survive a kill -9.

The ledger writer commits outcomes about once a second, so a process killed mid-sync would
lose the last second of events. Each run therefore appends one line to its journal before
each request (what is asked: ids and payload hash, never a body, a name or a secret) and one
after it (the answer: status, state, attempts, the SIS's description), with `O_APPEND` writes
that reach the OS at once (no fsync: a dead process, not a dead machine, is the case covered).
The ledger writer moves answered requests into `sync_events` in the transaction of its ledger
upserts. A run that finishes removes its journal; the next sync of the district (under the
district lock, so no live run owns another journal) ingests any journal a dead run left:
requests without an answer become events in state `unanswered` (the SIS may or may not have
received them), and the file goes.

Journals live in `journal/` beside the warehouse file (owner-only: 0600 files in a 0700
folder), one file per run: `sync_<district>_<run id>.journal`.

Retention: each sync first trims the district's events, kept plans and run rows older than
its `passback.history_retention_days` (`trim_history`).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from pipeline.config import warehouse_path
from pipeline.sink.ledger import DESCRIPTION_CHARS
from pipeline.sink.payloads import LINE_ITEMS, RESULTS
from pipeline.warehouse import transaction

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
Log = Callable[[str], None]
JOURNAL_FOLDER = "journal"
UNANSWERED = "unanswered"
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def journal_folder(connect: Connect) -> Path:
    """The journal folder beside the warehouse file `connect` opens (beside the configured
    warehouse when it is in memory)."""
    with connect() as conn:
        row = conn.execute("SELECT path FROM duckdb_databases() "
                           "WHERE database_name = current_database()").fetchone()
    path = Path(row[0]) if row and row[0] else warehouse_path()
    return path.parent / JOURNAL_FOLDER


def _safe(name: str) -> str:
    return _UNSAFE.sub("-", name) or "-"


def journal_path(folder: Path, district: str, run_id: str) -> Path:
    """Where one run's journal is written."""
    return folder / f"sync_{_safe(district)}_{_safe(run_id)}.journal"


def first_seq(connect: Connect, district: str, run_id: str) -> int:
    """The number of a run's first request: 1, or after those a previous attempt of the same
    run (a Dagster step retry) recorded, so (run, number) names one request."""
    with connect() as conn:
        row = conn.execute("SELECT max(seq) FROM passback.sync_events WHERE district = ? AND "
                           "run_id = ?", [district, run_id]).fetchone()
    return int(row[0]) + 1 if row and row[0] is not None else 1


def people(entity: str, record: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(class sourcedId, student sourcedId) a record names, where it names them."""
    if record is None:
        return None, None

    def ref(name: str) -> str | None:
        value = record.get(name)
        return value.get("sourcedId") if isinstance(value, dict) else None

    if entity == RESULTS:
        return ref("class"), ref("student")
    return (ref("class"), None) if entity == LINE_ITEMS else (None, None)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class Journal:
    """One run's write-ahead journal: a line before each request, a line after its answer.

    Thread-safe: each line is one `os.write` on an `O_APPEND` descriptor."""

    def __init__(self, folder: Path, district: str, run_id: str, first_seq: int = 1) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
        self.path = journal_path(folder, district, run_id)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
                           0o600)
        self._seq = itertools.count(first_seq)
        self._lock = threading.Lock()
        self.requests = 0
        self.answers = 0
        self._line({"kind": "run", "district": district, "run_id": run_id})

    def request(self, *, entity: str, sourced_id: str, action: str, at: datetime,
                grading_period: str | None, line_item: str | None, payload_hash: str | None,
                class_sourced_id: str | None, student_sourced_id: str | None) -> int:
        """Note a request about to be sent; returns its number in this run."""
        with self._lock:
            seq = next(self._seq)
            self.requests += 1
        self._line({"kind": "request", "seq": seq, "stamp": _stamp(at), "entity": entity,
                    "sourced_id": sourced_id, "action": action, "grading_period": grading_period,
                    "line_item": line_item, "class": class_sourced_id,
                    "student": student_sourced_id, "payload_hash": payload_hash})
        return seq

    def bulk_request(self, *, entity: str, action: str, at: datetime,
                     grading_period: str | None, records: list[dict[str, str | None]]) -> int:
        """Note a bulk POST about to be sent: one line naming each record (`sourced_id`,
        `line_item`, `class`, `student`, `payload_hash`); returns its number in this run.
        Read back, it becomes one event per record, all under this number."""
        with self._lock:
            seq = next(self._seq)
            self.requests += 1
        self._line({"kind": "bulk", "seq": seq, "stamp": _stamp(at), "entity": entity,
                    "action": action, "grading_period": grading_period, "records": records})
        return seq

    def answer(self, seq: int, *, at: datetime, status: int | None, state: str,
               attempts: int, description: str | None) -> None:
        """Note how the SIS answered request `seq`."""
        with self._lock:
            self.answers += 1
        self._line({"kind": "answer", "seq": seq, "stamp": _stamp(at), "status": status,
                    "state": state, "attempts": attempts,
                    "description": description[:DESCRIPTION_CHARS] if description else None})

    def _line(self, entry: dict[str, Any]) -> None:
        data = (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self._fd, data):]

    def close(self) -> None:
        """Close the file (it stays until removed or ingested)."""
        os.close(self._fd)


# The journal read back by DuckDB (a killed first sync may leave millions of lines): the run
# line names district and run, request lines join their answer lines by number. A line torn
# by the kill is skipped.
_JOURNAL_COLUMNS = {
    "kind": "VARCHAR", "district": "VARCHAR", "run_id": "VARCHAR", "seq": "BIGINT",
    "stamp": "TIMESTAMPTZ", "entity": "VARCHAR", "sourced_id": "VARCHAR", "action": "VARCHAR",
    "grading_period": "VARCHAR", "line_item": "VARCHAR", "class": "VARCHAR",
    "student": "VARCHAR", "payload_hash": "VARCHAR", "status": "INTEGER", "state": "VARCHAR",
    "attempts": "INTEGER", "description": "VARCHAR",
    "records": "STRUCT(sourced_id VARCHAR, line_item VARCHAR, class VARCHAR, student VARCHAR, "
               "payload_hash VARCHAR)[]"}
_INGEST_SQL = """
WITH lines AS (
    SELECT * FROM read_json($path, format = 'newline_delimited', ignore_errors = true,
                            columns = {columns})),
run AS (SELECT any_value(district) AS district, any_value(run_id) AS run_id
        FROM lines WHERE kind = 'run'),
single AS (SELECT seq, stamp, entity, sourced_id, grading_period, line_item, class, student,
                  action, payload_hash
           FROM lines WHERE kind = 'request'),
bulk AS (SELECT seq, stamp, entity, unnest(records) AS r, grading_period, action
         FROM lines WHERE kind = 'bulk'),
asked AS (SELECT * FROM (
            SELECT * FROM single UNION ALL
            SELECT seq, stamp, entity, r.sourced_id, grading_period, r.line_item, r.class,
                   r.student, action, r.payload_hash FROM bulk)
          WHERE seq IS NOT NULL AND entity IS NOT NULL AND sourced_id IS NOT NULL
            AND stamp IS NOT NULL),
answered AS (SELECT seq, any_value(stamp) AS stamp, any_value(status) AS status,
                    any_value(state) AS state, any_value(attempts) AS attempts,
                    any_value(description) AS description
             FROM lines WHERE kind = 'answer' AND state IS NOT NULL GROUP BY seq)
INSERT INTO passback.sync_events
SELECT run.district, run.run_id, q.seq, q.stamp, a.stamp, q.entity, q.sourced_id, q.grading_period,
       q.line_item, q.class, q.student, coalesce(q.action, ''), q.payload_hash, a.status,
       a.description, a.attempts, coalesce(a.state, '{unanswered}')
FROM asked q CROSS JOIN run LEFT JOIN answered a USING (seq)
WHERE run.district = $district
  AND NOT EXISTS (SELECT 1 FROM passback.sync_events e
                  WHERE e.district = run.district AND e.run_id = run.run_id AND e.seq = q.seq)
"""


def _journal_run(path: Path) -> tuple[str, str] | None:
    """(district, run id) from a journal's first line, or None when it has none."""
    with path.open("rb") as handle:
        first = handle.readline()
    try:
        head = json.loads(first)
    except ValueError:
        return None
    if not isinstance(head, dict) or head.get("kind") != "run":
        return None
    return str(head.get("district")), str(head.get("run_id"))


def ingest_journal(connect: Connect, path: Path, district: str) -> tuple[int, int]:
    """Move one journal's requests missing from passback.sync_events into it and remove the
    file; returns (events added, of which unanswered). A journal of another district is left."""
    with connect() as conn:
        owner = _journal_run(path)
        if owner is None:  # killed before its first line: it holds no request
            path.unlink(missing_ok=True)
            return 0, 0
        if owner[0] != district:
            return 0, 0
        columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in _JOURNAL_COLUMNS.items()) + "}"
        sql = _INGEST_SQL.format(columns=columns, unanswered=UNANSWERED)
        with transaction(conn):
            before = _unanswered(conn, district, owner[1])
            row = conn.execute(sql, {"path": str(path), "district": district}).fetchone()
            added = int(row[0]) if row else 0
            unanswered = _unanswered(conn, district, owner[1]) - before
    path.unlink(missing_ok=True)
    return added, unanswered


def _unanswered(conn: duckdb.DuckDBPyConnection, district: str, run_id: str) -> int:
    row = conn.execute("SELECT count(*) FROM passback.sync_events WHERE district = ? AND "
                       "run_id = ? AND state = ?", [district, run_id, UNANSWERED]).fetchone()
    return int(row[0]) if row else 0


def ingest_left_journals(connect: Connect, folder: Path, district: str, log: Log,
                         skip: Iterable[Path] = ()) -> int:
    """Ingest every journal a dead run of `district` left in `folder` (call under the
    district lock); returns the events added and says so in the log."""
    if not folder.is_dir():
        return 0
    skipped = {Path(p) for p in skip}
    total = 0
    for path in sorted(folder.glob(f"sync_{_safe(district)}_*.journal")):
        if path in skipped:
            continue
        added, unanswered = ingest_journal(connect, path, district)
        total += added
        if added:
            log(f"history: {added} request(s) from the journal of a run that did not finish "
                f"({path.name}) recorded in passback.sync_events, {unanswered} of them "
                f"'{UNANSWERED}' (the SIS may or may not have received them)")
    return total


# Tables trimmed by retention, and the time column each is aged by.
_RETAINED = (("sync_events", "requested_at"), ("sync_plan", "planned_at"),
             ("sync_runs", "planned_at"))


def trim_history(connect: Connect, district: str, days: int, log: Log,
                 now: datetime | None = None) -> dict[str, int]:
    """Delete the district's events, kept plans and run rows older than `days`; returns the
    rows deleted per table and logs them."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    deleted: dict[str, int] = {}
    with connect() as conn, transaction(conn):
        for table, column in _RETAINED:
            row = conn.execute(f"DELETE FROM passback.{table} WHERE district = ? AND "
                               f"{column} < ?", [district, cutoff]).fetchone()
            deleted[table] = int(row[0]) if row else 0
    log(f"history: kept {days} days; trimmed {deleted['sync_events']} event(s), "
        f"{deleted['sync_plan']} plan row(s), {deleted['sync_runs']} run row(s) of {district} "
        f"older than {cutoff:%Y-%m-%d}")
    return deleted


def settle_journal(connect: Connect, journal: Journal, recorded: int, district: str,
                   log: Log) -> None:
    """End a finished run's journal: removed when the ledger writer recorded an outcome for
    every request, else ingested first (requests left without an outcome: an abort)."""
    journal.close()
    if recorded >= journal.requests:
        journal.path.unlink(missing_ok=True)
        return
    added, unanswered = ingest_journal(connect, journal.path, district)
    log(f"history: {added} request(s) without an outcome recorded from this run's journal, "
        f"{unanswered} of them '{UNANSWERED}'")


def start_history(connect: Connect, district: str, retention_days: int, folder: Path | None,
                  log: Log) -> None:
    """What each sync does first: ingest journals dead runs left (when `folder` is given;
    call under the district lock), then trim what is older than the retention."""
    if folder is not None:
        ingest_left_journals(connect, folder, district, log)
    trim_history(connect, district, retention_days, log)


# passback.sync_runs columns that are no action count.
_RUN_FIELDS = {"district", "grading_period_sourced_id", "run_id", "dry_run", "closed",
               "planned_at", "finished_at", "planned_requests", "requests", "write_requests"}


def record_run(conn: duckdb.DuckDBPyConnection, *, district: str, grading_period: str,
               run_id: str, dry_run: bool, closed: bool, planned_at: datetime,
               counts: dict[str, int], planned_requests: int) -> None:
    """Insert a run's passback.sync_runs row: the count of every action of its plan."""
    names = [row[0] for row in conn.execute(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'passback' "
        "AND table_name = 'sync_runs'").fetchall()]
    unknown = set(counts) - set(names)
    if unknown:
        raise ValueError(f"passback.sync_runs has no column for the action(s) "
                         f"{sorted(unknown)}: add them to SINK_TABLES in pipeline/warehouse.py")
    values: dict[str, Any] = {
        **{name: 0 for name in names if name not in _RUN_FIELDS},  # actions not planned
        "district": district, "grading_period_sourced_id": grading_period, "run_id": run_id,
        "dry_run": dry_run, "closed": closed, "planned_at": planned_at,
        "planned_requests": planned_requests, **counts}
    columns = [name for name in names if name in values]
    conn.execute(
        f"INSERT OR REPLACE INTO passback.sync_runs ({', '.join(map(_quoted, columns))}) "
        f"VALUES ({', '.join('?' for _ in columns)})", [values[name] for name in columns])


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def finish_run(connect: Connect, district: str, grading_period: str, run_id: str,
               requests: int, write_requests: int) -> None:
    """Mark a run's passback.sync_runs row finished, with the requests it made."""
    with connect() as conn:
        conn.execute("UPDATE passback.sync_runs SET finished_at = ?, requests = ?, "
                     "write_requests = ? WHERE district = ? AND grading_period_sourced_id = ? "
                     "AND run_id = ?", [datetime.now(UTC), requests, write_requests, district,
                                        grading_period, run_id])
