"""Writing extracted rows into the warehouse: one transaction per load, bulk from Arrow.

A full load replaces the district's rows; an incremental load upserts the changed rows and
drops the deleted ones. Either way the counts of new and changed rows are taken inside the
same transaction, against what was there before, and the SIS cursor is saved with the rows.
Callers fetch everything first: these functions never wait on the network.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from pipeline.oneroster import Extract, Quarantined

# Re-exported for pipeline/bench/extract.py, which imports it from here.


INCOMING = "_passback_incoming"


@dataclass(frozen=True)
class Changes:
    """What a load did to one table for one district."""

    rows: int  # rows of the district in the table after the load
    new: int  # keys that were not there before
    changed: int  # keys that were there with different values
    deleted: int  # keys removed because the source deleted them


# Results are read with fetchall: DuckDB refuses the next statement while a result is unfinished.


def write_table(conn: duckdb.DuckDBPyConnection, table: str, district: str,
                rows: pa.Table | pd.DataFrame | str, key: Sequence[str], *, full: bool,
                deleted: Sequence[str] = ()) -> Changes:
    """Replace (full) or upsert (incremental) a district's rows; call inside a transaction.

    `rows` is Arrow, pandas, or the name of a relation the connection reads (an attached
    stage's table: the rows never leave DuckDB). `deleted` holds values of a single-column
    key to remove (OneRoster `tobedeleted`).
    """
    with _incoming(conn, rows):
        new, changed = _count_changes(conn, table, district, key)
        removed = _remove(conn, table, district, key, full=full, deleted=deleted)
        conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {INCOMING}")
    total = conn.execute(f"SELECT count(*) FROM {table} WHERE district = ?",
                         [district]).fetchall()
    return Changes(total[0][0] if total else 0, new, changed, removed)


@contextmanager
def _incoming(conn: duckdb.DuckDBPyConnection, rows: pa.Table | pd.DataFrame | str,
              ) -> Iterator[None]:
    """The incoming rows under the name INCOMING for the block's statements."""
    if isinstance(rows, str):
        conn.execute(f"CREATE OR REPLACE TEMP VIEW {INCOMING} AS SELECT * FROM {rows}")
        try:
            yield
        finally:
            conn.execute(f"DROP VIEW IF EXISTS {INCOMING}")
        return
    conn.register(INCOMING, rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(
        rows, preserve_index=False))
    try:
        yield
    finally:
        conn.unregister(INCOMING)


@contextmanager
def attached(conn: duckdb.DuckDBPyConnection, database: Path, alias: str) -> Iterator[str]:
    """Another DuckDB file, read-only, under `alias` for the block (outside a transaction)."""
    conn.execute(f"ATTACH '{database}' AS {alias} (READ_ONLY)")
    try:
        yield alias
    finally:
        conn.execute(f"DETACH {alias}")


def _count_changes(conn: duckdb.DuckDBPyConnection, table: str, district: str,
                   key: Sequence[str]) -> tuple[int, int]:
    """Incoming keys that are new, and keys whose row differs from the current one.

    One join on the key, each side carrying a hash of its whole row (nulls hash alike): a
    scan of each side instead of an EXCEPT that holds every distinct row of both (12 million
    scores at district scale). Two different rows hashing alike would count as unchanged:
    a 1 in 2^64 chance per row, for a count shown in the run's metadata."""
    columns = ", ".join(f'"{name}"' for name in _columns(conn, INCOMING))
    keys = ", ".join(f'"{k}"' for k in key)
    on = " AND ".join(f'cur."{k}" IS NOT DISTINCT FROM inc."{k}"' for k in key)
    counted = conn.execute(
        f"SELECT count(*) FILTER (WHERE cur.row_hash IS NULL), "
        f"count(*) FILTER (WHERE cur.row_hash <> inc.row_hash) "
        f"FROM (SELECT {keys}, hash({columns}) AS row_hash FROM {INCOMING}) inc "
        f"LEFT JOIN (SELECT {keys}, hash({columns}) AS row_hash FROM {table} "
        f"WHERE district = ?) cur ON {on}", [district]).fetchall()
    return (int(counted[0][0]), int(counted[0][1])) if counted else (0, 0)


def _remove(conn: duckdb.DuckDBPyConnection, table: str, district: str, key: Sequence[str],
            *, full: bool, deleted: Sequence[str]) -> int:
    """Delete what the incoming rows replace; return how many source deletions were applied."""
    if full:
        conn.execute(f"DELETE FROM {table} WHERE district = ?", [district])
        return len(deleted)
    on = " AND ".join(f'{table}."{k}" = inc."{k}"' for k in key)
    conn.execute(f"DELETE FROM {table} WHERE district = ? AND EXISTS "
                 f"(SELECT 1 FROM {INCOMING} inc WHERE {on})", [district])
    if not deleted:
        return 0
    (only,) = key  # OneRoster deletions name a sourcedId
    before = conn.execute(f"SELECT count(*) FROM {table} WHERE district = ?",
                          [district]).fetchall()
    conn.execute(f'DELETE FROM {table} WHERE district = ? AND "{only}" IN '
                 "(SELECT unnest(?::VARCHAR[]))", [district, list(deleted)])
    after = conn.execute(f"SELECT count(*) FROM {table} WHERE district = ?",
                         [district]).fetchall()
    return (before[0][0] if before else 0) - (after[0][0] if after else 0)


def _columns(conn: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [row[0] for row in conn.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def write_quarantine(conn: duckdb.DuckDBPyConnection, district: str, extract: Extract, *,
                     full: bool) -> None:
    """Record set-aside records; clear earlier entries for every record this load saw again."""
    if full:
        conn.execute("DELETE FROM sis.quarantine WHERE district = ? AND entity = ?",
                     [district, extract.entity])
    else:
        seen = [*extract.rows.column("sourced_id").to_pylist(), *extract.deleted,
                *(q.sourced_id for q in extract.quarantined if q.sourced_id)]
        conn.execute("DELETE FROM sis.quarantine WHERE district = ? AND entity = ? AND "
                     "sourced_id IN (SELECT unnest(?::VARCHAR[]))",
                     [district, extract.entity, seen])
    if extract.quarantined:
        conn.register(INCOMING, _quarantine_rows(district, extract.quarantined))
        try:
            conn.execute(f"INSERT INTO sis.quarantine BY NAME SELECT * FROM {INCOMING}")
        finally:
            conn.unregister(INCOMING)


def _quarantine_rows(district: str, items: Sequence[Quarantined]) -> pa.Table:
    now = datetime.now(UTC)
    return pa.table({
        "district": [district] * len(items),
        "entity": [q.entity for q in items],
        "sourced_id": [q.sourced_id for q in items],
        "reason": [q.reason for q in items],
        "record": [json.dumps(q.record, sort_keys=True) for q in items],
        "detected_at": pa.array([now] * len(items), pa.timestamp("us", tz="UTC")),
    })


def read_cursor(conn: duckdb.DuckDBPyConnection, district: str, entity: str) -> str | None:
    """Where the last successful load of an entity left off, if it ever ran."""
    row = conn.execute("SELECT cursor FROM passback.extract_cursors WHERE district = ? AND "
                       "entity = ?", [district, entity]).fetchall()
    return row[0][0] if row else None


def save_cursor(conn: duckdb.DuckDBPyConnection, district: str, entity: str,
                cursor: str | None, *, full: bool) -> None:
    """Move the cursor forward (a full load with nothing in it forgets the cursor)."""
    if cursor is None:
        if full:
            conn.execute("DELETE FROM passback.extract_cursors WHERE district = ? AND "
                         "entity = ?", [district, entity])
        return
    conn.execute("INSERT OR REPLACE INTO passback.extract_cursors VALUES (?, ?, ?, ?)",
                 [district, entity, cursor, datetime.now(UTC)])


def release_memory() -> None:
    """Give memory freed by a step back to the operating system before the next one.

    `passback run` executes its steps one after another in one process: what a step freed
    but its allocators kept (Arrow's pool, glibc's heap) would count against the next
    step's peak. Both are asked to return it; elsewhere than glibc, only Arrow's is.
    """
    pa.default_memory_pool().release_unused()
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
