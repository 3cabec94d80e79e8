"""`passback.sync_ledger`: what the SIS was last told about each object, written as it happens.

HTTP workers never touch DuckDB. They hand each outcome to a `LedgerWriter`, whose one thread
drains a queue and upserts in short transactions (every `batch_size` outcomes or every
`interval` seconds) through a connection opened for that flush only. A process killed mid-sync
loses at most the last unflushed second of outcomes; those objects are simply sent again on the
next run, which is harmless because a OneRoster PUT replaces the object named by its sourcedId
(our sourcedIds are deterministic), and a DELETE of something already gone answers 404.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

import duckdb
import pyarrow as pa

from pipeline.warehouse import transaction

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]

# Ledger states.
SENT = "sent"  # the SIS accepted this payload
REJECTED = "rejected"  # the SIS refused this payload (4xx): not retried until it changes
FAILED = "failed"  # no answer, or 5xx/429 after every retry: tried again on the next run
DELETED = "deleted"  # removed from the SIS (or already gone)
# Event states only (passback.sync_events), never a ledger state: a bulk request whose
# records went again in other requests, which decide their ledger rows. `split`: the SIS
# refused the body and it was sent again in halves; `resent`: the SIS did not take it (no
# bulk POSTs) or its answer was lost, and its records went by PUT.
SPLIT = "split"
RESENT = "resent"
EVENT_ONLY = frozenset({SPLIT, RESENT})


@dataclass(frozen=True)
class Outcome:
    """What happened to one object in this run; becomes (or updates) its ledger row."""

    district: str
    entity: str
    sourced_id: str
    grading_period_sourced_id: str | None
    line_item_sourced_id: str | None
    payload_hash: str | None
    state: str
    http_status: int | None
    attempts: int
    last_error: str | None
    sent_at: datetime
    run_id: str
    # The request's own row in passback.sync_events (see pipeline/sink/history.py): its
    # number in the run's journal (None: not journaled, no event), what was asked, when, who
    # it concerns where the record names them, and the SIS's description even on success.
    seq: int | None = None
    action: str | None = None
    requested_at: datetime | None = None
    class_sourced_id: str | None = None
    student_sourced_id: str | None = None
    description: str | None = None
    # The sourcedId the SIS allocated when it created this record (a bulk POST's
    # `sourcedIdPairs`), where it differs from ours; None keeps what the ledger holds.
    sis_sourced_id: str | None = None


_SCHEMA = pa.schema([
    ("district", pa.string()), ("entity", pa.string()), ("sourced_id", pa.string()),
    ("grading_period_sourced_id", pa.string()), ("line_item_sourced_id", pa.string()),
    ("payload_hash", pa.string()), ("state", pa.string()), ("http_status", pa.int32()),
    ("attempts", pa.int32()), ("last_error", pa.string()),
    ("sent_at", pa.timestamp("us", tz="UTC")), ("run_id", pa.string()),
    ("sis_sourced_id", pa.string()),
])
# first_sent_at is kept from the first success; attempts accumulate over the object's life.
_UPSERT = """
INSERT INTO passback.sync_ledger (district, entity, sourced_id, grading_period_sourced_id,
    line_item_sourced_id, payload_hash, state, http_status, attempts, last_error,
    first_sent_at, last_sent_at, run_id, sis_sourced_id)
SELECT district, entity, sourced_id, grading_period_sourced_id, line_item_sourced_id,
       payload_hash, state, http_status, attempts, last_error,
       CASE WHEN state = 'sent' THEN sent_at END, sent_at, run_id, sis_sourced_id
FROM ledger_batch
ON CONFLICT (district, entity, sourced_id) DO UPDATE SET
    grading_period_sourced_id = COALESCE(EXCLUDED.grading_period_sourced_id,
                                         grading_period_sourced_id),
    line_item_sourced_id = COALESCE(EXCLUDED.line_item_sourced_id, line_item_sourced_id),
    payload_hash = EXCLUDED.payload_hash, state = EXCLUDED.state,
    http_status = EXCLUDED.http_status, attempts = attempts + EXCLUDED.attempts,
    last_error = EXCLUDED.last_error,
    first_sent_at = COALESCE(first_sent_at, EXCLUDED.first_sent_at),
    last_sent_at = EXCLUDED.last_sent_at, run_id = EXCLUDED.run_id,
    sis_sourced_id = COALESCE(EXCLUDED.sis_sourced_id, sis_sourced_id)
"""


def write_outcomes(conn: duckdb.DuckDBPyConnection, outcomes: list[Outcome]) -> None:
    """Upsert outcomes in one transaction (the last outcome per object wins), and append
    each journaled outcome's request to passback.sync_events in the same transaction."""
    latest: dict[tuple[str, str, str], Outcome] = {}
    for outcome in outcomes:
        if outcome.state in EVENT_ONLY:
            continue
        key = (outcome.district, outcome.entity, outcome.sourced_id)
        if key in latest:  # e.g. a retried DELETE: count every attempt, keep the last state
            outcome = replace(outcome, attempts=outcome.attempts + latest[key].attempts)
        latest[key] = outcome
    # Column by column: dataclasses.asdict deep-copies every row and held the GIL for ~6 ms
    # per batch, stalling the HTTP workers that share this process.
    batch = pa.Table.from_pydict({name: [getattr(o, name) for o in latest.values()]
                                  for name in _SCHEMA.names}, schema=_SCHEMA)
    events = event_table([o for o in outcomes if o.seq is not None])
    with transaction(conn):
        if batch.num_rows:
            conn.register("ledger_batch", batch)
            conn.execute(_UPSERT)
            conn.unregister("ledger_batch")
        if events.num_rows:
            append_events(conn, events)


EVENT_SCHEMA = pa.schema([
    ("district", pa.string()), ("run_id", pa.string()), ("seq", pa.int64()),
    ("requested_at", pa.timestamp("us", tz="UTC")), ("answered_at", pa.timestamp("us", tz="UTC")),
    ("entity", pa.string()), ("sourced_id", pa.string()),
    ("grading_period_sourced_id", pa.string()), ("line_item_sourced_id", pa.string()),
    ("class_sourced_id", pa.string()), ("student_sourced_id", pa.string()),
    ("action", pa.string()), ("payload_hash", pa.string()), ("http_status", pa.int32()),
    ("description", pa.string()), ("attempts", pa.int32()), ("state", pa.string()),
])
# The SIS's description is free text: kept short in the journal and the events.
DESCRIPTION_CHARS = 500


def event_table(outcomes: list[Outcome]) -> pa.Table:
    """passback.sync_events rows of journaled outcomes, one per request (built column by
    column, as the ledger batch is, to hold the GIL briefly)."""
    descriptions = [o.description or o.last_error for o in outcomes]
    columns = {
        "district": [o.district for o in outcomes], "run_id": [o.run_id for o in outcomes],
        "seq": [o.seq for o in outcomes],
        "requested_at": [o.requested_at or o.sent_at for o in outcomes],
        "answered_at": [o.sent_at for o in outcomes], "entity": [o.entity for o in outcomes],
        "sourced_id": [o.sourced_id for o in outcomes],
        "grading_period_sourced_id": [o.grading_period_sourced_id for o in outcomes],
        "line_item_sourced_id": [o.line_item_sourced_id for o in outcomes],
        "class_sourced_id": [o.class_sourced_id for o in outcomes],
        "student_sourced_id": [o.student_sourced_id for o in outcomes],
        "action": [o.action or "" for o in outcomes],
        "payload_hash": [o.payload_hash for o in outcomes],
        "http_status": [o.http_status for o in outcomes],
        "description": [d[:DESCRIPTION_CHARS] if d else None for d in descriptions],
        "attempts": [o.attempts for o in outcomes], "state": [o.state for o in outcomes]}
    return pa.Table.from_pydict(columns, schema=EVENT_SCHEMA)


def append_events(conn: duckdb.DuckDBPyConnection, events: pa.Table, *,
                  skip_known: bool = False) -> int:
    """Append events to passback.sync_events; returns how many went in. The caller holds
    the transaction. `skip_known` leaves out requests already there (by district, run and
    request number): for a journal read back, not for the writer's own fresh outcomes."""
    known = """
        WHERE NOT EXISTS (SELECT 1 FROM passback.sync_events e
                          WHERE e.district = b.district AND e.run_id = b.run_id
                            AND e.seq = b.seq)""" if skip_known else ""
    conn.register("event_batch", events)
    try:
        row = conn.execute(
            f"INSERT INTO passback.sync_events SELECT b.* FROM event_batch b{known}").fetchone()
        return int(row[0]) if row else 0
    finally:
        conn.unregister("event_batch")


def is_lock_conflict(error: Exception) -> bool:
    """True when another process holds the DuckDB file (worth waiting for, not failing on)."""
    return isinstance(error, duckdb.IOException) and "lock" in str(error).lower()


def patient(connect: Connect, wait: float = 120.0) -> Connect:
    """`connect`, retried while another process holds the file (DuckDB allows one writer
    process): a rules run or a reader may hold it for a moment between our short commits."""

    @contextmanager
    def connect_when_free() -> Iterator[duckdb.DuckDBPyConnection]:
        give_up, pause = time.monotonic() + wait, 0.05
        while True:
            try:
                opened = connect()
                conn = opened.__enter__()
                break
            except duckdb.Error as error:
                if not is_lock_conflict(error) or time.monotonic() > give_up:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 2.0)
        try:
            yield conn
        except BaseException:
            if not opened.__exit__(*sys.exc_info()):
                raise
        else:
            opened.__exit__(None, None, None)

    return connect_when_free


class LedgerWriter:
    """A single writer thread that commits outcomes in small, frequent transactions."""

    def __init__(self, connect: Connect, *, batch_size: int = 200, interval: float = 1.0,
                 lock_wait: float = 120.0) -> None:
        self._connect = patient(connect, lock_wait)
        self._batch_size = batch_size
        self._interval = interval
        self._queue: queue.SimpleQueue[Outcome | list[Outcome] | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self.written = 0
        self.requests_written = 0  # distinct requests among them (a bulk POST is one)
        self.flushes = 0
        self._thread = threading.Thread(target=self._run, name="sync-ledger-writer", daemon=True)
        self._thread.start()

    def record(self, outcome: Outcome) -> None:
        """Queue one outcome (called from HTTP worker threads; never blocks on DuckDB)."""
        if self._error is not None:
            raise RuntimeError("the ledger writer stopped") from self._error
        self._queue.put(outcome)

    def record_many(self, outcomes: list[Outcome]) -> None:
        """Queue the outcomes of one request (a bulk POST's records): committed in one
        flush, so its events are never split between two transactions."""
        if self._error is not None:
            raise RuntimeError("the ledger writer stopped") from self._error
        self._queue.put(list(outcomes))

    def close(self) -> None:
        """Flush what is queued, stop the thread, and raise if any flush failed."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise RuntimeError(f"could not write the sync ledger: {self._error}") from self._error

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        pending: list[Outcome] = []
        requests = 0  # requests among them: a flush costs ~0.1 s whatever its size, so a
        # bulk POST's thousand outcomes count as one toward `batch_size`
        deadline = time.monotonic() + self._interval
        done = False
        while not done:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                if item is None:
                    done = True
                elif isinstance(item, list):
                    pending += item
                    requests += 1
                else:
                    pending.append(item)
                    requests += 1
            except queue.Empty:
                pass
            if pending and (done or requests >= self._batch_size
                            or time.monotonic() >= deadline):
                try:
                    self._flush(pending)
                except BaseException as error:  # surfaced by record() and close()
                    self._error = error
                    return
                pending, requests = [], 0
            if time.monotonic() >= deadline:
                deadline = time.monotonic() + self._interval

    def _flush(self, outcomes: list[Outcome]) -> None:
        with self._connect() as conn:
            write_outcomes(conn, outcomes)
        self.written += len(outcomes)
        self.requests_written += len({o.seq for o in outcomes if o.seq is not None}) \
            + sum(1 for o in outcomes if o.seq is None)
        self.flushes += 1
