"""The sync plan: what one district and grading period needs sent to the SIS, and why.

Every accepted line item and result (from `passback.line_items` / `passback.results`) is
built into its OneRoster record and hashed; the ledger says what the SIS last accepted.
- create / update: the SIS lacks this exact payload (never accepted, or accepted differently);
- unchanged: the ledger holds the same hash as accepted; nothing is sent;
- refused: the SIS refused this exact payload before: not retried until the payload changes;
- blocked: a result whose line item the SIS refused (or would not be sent);
- invalid: the body breaks the OneRoster spec (a bug upstream): never sent;
- delete / stopped: sent before, no longer accepted anywhere in the district. Deleted only
  when the district turns `passback.propagate_deletions` on (the SIS is the system of record);
- frozen: the grading period is closed: a closed period is never written again.

The plan is computed and written in DuckDB (pipeline/sink/plan_sql.py): a run's plan goes
straight into `passback.sync_plan` (`store_plan`), every action but `unchanged`, which is only
counted, and the sender reads it back in batches through short connections
(`SyncPlan.writes`). A plan that writes nothing (`plan_partition`: `passback plan`, tests,
benchmarks) goes to a temporary table of the connection and comes back as `actions`. The
planning itself is in planner.py, its SQL in plan_sql.py.

A planned record is what the SIS stores: its references name a sourcedId and a type, with no
`href` (the writer adds them from the district's base URL when it sends), so neither its
hash nor the plan depends on where the SIS is reached. A ledger hash from an older release
(`v2:`, or unprefixed from before hashes left the base URL out) is checked once in Python
against today's payload (`older_hashes`); where it is this payload's, the plan treats it as
the same, and `run_sync` rewrites the ledger row to today's hash.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import DistrictConfig
from pipeline.grading_periods import CLOSED_PREDICATE, closed_params
from pipeline.oneroster.references import Hrefs
from pipeline.sink.payloads import LINE_ITEMS, wrap
from pipeline.sink.plan_sql import ACTIONS, HELD, PUTS, SEND_ORDER, WRITES

__all__ = ["ACTIONS", "HELD", "PUTS", "WRITES", "Action", "SyncPlan"]

JSON = dict[str, Any]
Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
Change = tuple[str, str | None, str | None]

_CLOSED_SQL = f"""
SELECT sourced_id FROM sis.academic_sessions
WHERE district = $district AND type = 'gradingPeriod' AND {CLOSED_PREDICATE}
"""
# Ledger rows whose older-release hash is today's payload's (see the module doc).
LEGACY_SCHEMA = pa.schema([("entity", pa.string()), ("sourced_id", pa.string()),
                           ("old_hash", pa.string()), ("new_hash", pa.string())])
# Rows of a stored plan turned into actions at a time (see `SyncPlan.select`).
READ_ROWS = 5_000
_READ_COLUMNS = ("entity, sourced_id, action, line_item_sourced_id, payload, payload_hash, "
                 "reason, changes, sis_sourced_id, sis_line_item_sourced_id")


@dataclass(frozen=True, slots=True)
class Action:
    """One object and what the sync does with it."""

    entity: str
    sourced_id: str
    action: str
    grading_period_sourced_id: str
    line_item_sourced_id: str | None = None
    # The OneRoster record to PUT (create / update), as compact JSON, references without
    # href (see the module doc).
    body: bytes | None = None
    payload_hash: str | None = None
    reason: str | None = None
    # The ledger's old-style hash of this same payload, when the plan recognised one: the
    # ledger row is rewritten to `payload_hash` (unchanged / refused actions send nothing).
    legacy_hash: str | None = None
    # Where the SIS's values differ from this record's: (field, value in the SIS, value
    # planned), as text; for drift (overwrite / kept) and for updates the SIS was read for.
    changes: tuple[Change, ...] = ()
    # Where the SIS allocated its own sourcedId when Passback created the record (the
    # ledger's `sis_sourced_id`; see a bulk POST's `sourcedIdPairs`): requests about this
    # record address the SIS's. For a result, its line item's SIS sourcedId likewise.
    # None: the SIS uses Passback's.
    sis_sourced_id: str | None = None
    sis_line_item_sourced_id: str | None = None

    @property
    def record(self) -> JSON | None:
        """The OneRoster record to PUT, decoded, references without hrefs (None unless a
        create or update)."""
        return None if self.body is None else json.loads(self.body)


@dataclass(frozen=True)
class StoredPlan:
    """Where a plan's rows are: a run's rows of a plan table, read through `connect`."""

    connect: Connect
    run_id: str
    table: str = "passback.sync_plan"


@dataclass
class SyncPlan:
    """The plan of one district and grading period: its rows in `actions` (a plan that was not
    stored, or one built by hand) or in a plan table (`stored`), and the count of each action
    (`planned`; counted from `actions` when None)."""

    district: str
    grading_period_sourced_id: str
    closed: bool
    actions: list[Action] = field(default_factory=list)
    # Where the district's references point today: only for showing bodies as sent.
    hrefs: Hrefs | None = None
    planned: dict[str, int] | None = None
    stored: StoredPlan | None = None
    # Ledger rows whose older-release hash is this plan's payload (LEGACY_SCHEMA); None: none.
    legacy: pa.Table | None = None

    def counts(self) -> dict[str, int]:
        """How many objects fall under each action (every action named, zeros included)."""
        found = self.planned if self.planned is not None else \
            Counter(a.action for a in self.actions)
        return {name: found.get(name, 0) for name in ACTIONS}

    def select(self, kinds: tuple[str, ...], entity: str | None = None, *,
               conn: duckdb.DuckDBPyConnection | None = None,
               limit: int | None = None) -> Iterator[Action]:
        """The actions of these kinds (of one entity, or both) in send order.

        A stored plan is read in one short connection (or on `conn`): the first `limit`
        rows, or all of them at once when read on `conn` (removals, drift: a few rows), or
        else spooled in send order to a Parquet file beside the warehouse and read back from
        it `READ_ROWS` at a time, with no connection open while the caller works (a sender
        waits on the SIS between batches). One sort, not a query per batch: paging through
        millions of rows with `LIMIT` cost DuckDB a scan per page."""
        if self.stored is None:
            found = (a for a in self.actions if a.action in kinds
                     and (entity is None or a.entity == entity))
            yield from (found if limit is None else _first(found, limit))
            return
        query, params = _stored_query(self, kinds, entity)
        if limit is not None or conn is not None:
            sql = query + (f" LIMIT {int(limit)}" if limit is not None else "")
            with nullcontext(conn) if conn is not None else self.stored.connect() as reader:
                rows = reader.execute(sql, params).fetchall()
            yield from (_action(row, self.grading_period_sourced_id) for row in rows)
            return
        with self.stored.connect() as reader, planning_settings(reader, keep_order=True):
            spool = _spool_path(reader)
            reader.execute(f"COPY ({query}) TO '{spool}' (FORMAT parquet)", params)
        # Unlinked once open: read through the handle, and gone even if the process dies.
        with open(spool, "rb") as handle:
            spool.unlink()
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=READ_ROWS):
                for row in zip(*(batch.column(i).to_pylist()
                                 for i in range(batch.num_columns)), strict=True):
                    yield _action(row, self.grading_period_sourced_id)

    def writes(self, entity: str, kinds: tuple[str, ...] = WRITES) -> Iterator[Action]:
        """The actions of one entity that send a request, in send order: line items by
        class and sourcedId, results by class, line item and sourcedId, deletions results
        first."""
        return self.select(tuple(k for k in kinds if k in WRITES), entity)

    def held_line_items(self) -> set[str]:
        """Line items the SIS holds as planned before anything is sent (`HELD`), of those
        the plan's result writes sit under: their results may go at once."""
        if self.stored is None:
            return {a.sourced_id for a in self.actions
                    if a.entity == LINE_ITEMS and a.action in HELD}
        with self.stored.connect() as conn:
            rows = conn.execute(
                f"SELECT DISTINCT line_item_sourced_id FROM {self.stored.table} "
                "WHERE district = $district AND grading_period_sourced_id = $gp "
                "AND run_id = $run_id AND entity = 'results' AND line_item_held",
                {"district": self.district, "gp": self.grading_period_sourced_id,
                 "run_id": self.stored.run_id}).fetchall()
        return {row[0] for row in rows}

    @property
    def planned_requests(self) -> int:
        """Requests the plan sends when nothing fails (retries not counted)."""
        counts = self.counts()
        return sum(counts[a] for a in WRITES)

    def legacy_hashes(self) -> list[Action]:
        """Actions that send nothing and whose ledger row holds an older-release hash of
        their payload (`unchanged`, `kept`, `refused`)."""
        if self.legacy is None or not self.legacy.num_rows:
            return []
        if self.stored is None:
            sent = {(a.entity, a.sourced_id): a.action for a in self.actions}
        else:  # the stored rows of these objects only
            with self.stored.connect() as conn:
                conn.register("legacy_keys", self.legacy.select(["entity", "sourced_id"]))
                rows = conn.execute(
                    f"SELECT p.entity, p.sourced_id, p.action FROM {self.stored.table} p "
                    "SEMI JOIN legacy_keys k ON k.entity = p.entity AND k.sourced_id = "
                    "p.sourced_id WHERE p.district = $district AND "
                    "p.grading_period_sourced_id = $gp AND p.run_id = $run_id",
                    {"district": self.district, "gp": self.grading_period_sourced_id,
                     "run_id": self.stored.run_id}).fetchall()
                conn.unregister("legacy_keys")
            sent = {(entity, sourced_id): action for entity, sourced_id, action in rows}
        found = []
        for row in self.legacy.to_pylist():
            action = sent.get((row["entity"], row["sourced_id"]), "unchanged")
            if action in ("unchanged", "kept", "refused"):
                found.append(Action(row["entity"], row["sourced_id"], action,
                                    self.grading_period_sourced_id,
                                    payload_hash=row["new_hash"], legacy_hash=row["old_hash"]))
        return found

    def samples(self, per_action: int = 2) -> dict[str, list[JSON]]:
        """A few sample payloads per write action, as sent (sourcedIds only: no student
        names)."""
        found: dict[str, list[JSON]] = {}
        for kind in WRITES:
            for item in self.select((kind,), limit=per_action):
                record = item.record
                if record is not None and self.hrefs is not None:
                    record = self.hrefs.link(record)
                found.setdefault(kind, []).append(
                    wrap(item.entity, record) if record is not None
                    else {"DELETE": f"{item.entity}/{item.sourced_id}"})
        return found


def _first(actions: Iterator[Action], count: int) -> list[Action]:
    found = []
    for action in actions:
        found.append(action)
        if len(found) == count:
            break
    return found


def _stored_query(plan: SyncPlan, kinds: tuple[str, ...],
                  entity: str | None) -> tuple[str, JSON]:
    """The query of a stored plan's actions of these kinds, in send order, and its parameters."""
    assert plan.stored is not None
    params: JSON = {"district": plan.district, "gp": plan.grading_period_sourced_id,
                    "run_id": plan.stored.run_id, "kinds": list(kinds)}
    where = ""
    if entity is not None:
        where, params["entity"] = " AND entity = $entity", entity
    return (f"SELECT {_READ_COLUMNS} FROM {plan.stored.table} WHERE district = $district "
            "AND grading_period_sourced_id = $gp AND run_id = $run_id "
            f"AND list_contains($kinds, action){where} ORDER BY {SEND_ORDER}"), params


def _spool_path(conn: duckdb.DuckDBPyConnection) -> Path:
    """A new file name beside the warehouse (whose folder is owner-only: bodies hold grades),
    or in the temporary folder for a warehouse in memory."""
    row = conn.execute("SELECT path FROM duckdb_databases() "
                       "WHERE database_name = current_database()").fetchone()
    folder = Path(row[0]).parent if row and row[0] else Path(tempfile.gettempdir())
    return folder / f".plan-{uuid.uuid4().hex}.parquet"


def _action(row: tuple[Any, ...], grading_period: str) -> Action:
    (entity, sourced_id, action, line_item, payload, digest, reason, changes, sis_id,
     sis_line_item) = row
    return Action(entity, sourced_id, action, grading_period, line_item,
                  body=payload.encode("utf-8") if payload is not None else None,
                  payload_hash=digest, reason=reason,
                  changes=tuple((c["field"], c["sis"], c["planned"]) for c in changes or ()),
                  sis_sourced_id=sis_id, sis_line_item_sourced_id=sis_line_item)


def closed_grading_periods(conn: duckdb.DuckDBPyConnection, config: DistrictConfig,
                           as_of: date) -> set[str]:
    """Grading periods of a district that are closed on `as_of`."""
    rows = conn.execute(_CLOSED_SQL, {"district": config.district,
                                      **closed_params(config, as_of)}).fetchall()
    return {row[0] for row in rows} | set(config.passback.closed_grading_periods.listed)


# DuckDB's share while planning: the plan's sort and joins spill to disk past it, so a
# partition of millions of rows plans in bounded memory (the step's own Python is apart).
PLAN_MEMORY_LIMIT = "1GB"


@contextmanager
def planning_settings(conn: duckdb.DuckDBPyConnection, *,
                       keep_order: bool = False) -> Iterator[None]:
    """The memory limit of planning, and (unless `keep_order`) no insertion order to keep
    (rows are sorted when read, `SEND_ORDER`), for the statements in the block; the
    connection's own settings after."""
    settings = {"memory_limit": PLAN_MEMORY_LIMIT}
    if not keep_order:
        settings["preserve_insertion_order"] = "false"
    before = {name: conn.execute(f"SELECT current_setting('{name}')").fetchone()[0]
              for name in settings}
    for name, value in settings.items():
        conn.execute(f"SET {name} = '{value}'")
    try:
        yield
    finally:
        for name, value in before.items():
            conn.execute(f"SET {name} = '{value}'")
