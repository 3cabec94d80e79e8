"""The warehouse: one DuckDB file, schemas `otus` and `sis` (raw), `passback` (derived).

The raw tables are the contract between the extract layer and the rules layer. Their columns
follow their sources, the Otus export contract and the OneRoster endpoint table, so a column
is written down once; the derived `passback` tables are written down here. Every table carries
`district` so one file can hold many districts; loads replace a district's rows (and a
partition's, where a table is partitioned) in one transaction.

DuckDB allows one writer per file: open a connection only around the work that needs it,
never across network I/O and never at import time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa

from pipeline.config import warehouse_path
from pipeline.oneroster.endpoints import ENDPOINTS
from pipeline.otus.contract import ENTITIES

# Arrow types of the raw tables' columns, as DuckDB column types. Lists map element-wise.
ARROW_TO_DUCKDB: dict[pa.DataType, str] = {
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
    pa.float64(): "DOUBLE",
    pa.date32(): "DATE",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
}


def duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB column type of an Arrow type; a clear error for one not mapped yet."""
    if pa.types.is_list(arrow_type):
        return f"{duckdb_type(arrow_type.value_type)}[]"
    try:
        return ARROW_TO_DUCKDB[arrow_type]
    except KeyError:
        raise TypeError(f"no DuckDB type for Arrow {arrow_type}; known: "
                        f"{sorted(map(str, ARROW_TO_DUCKDB))}") from None


def columns_ddl(schema: pa.Schema) -> str:
    """The column list of a CREATE TABLE for an Arrow schema; non-nullable fields are NOT NULL."""
    return ", ".join(f'"{f.name}" {duckdb_type(f.type)}{"" if f.nullable else " NOT NULL"}'
                     for f in schema)


# The raw tables follow their sources: otus.* the export contract (pipeline/otus/contract.py),
# sis.* the endpoint table (pipeline/oneroster/endpoints.py), where OneRoster records are
# flattened and references become `<name>_sourced_id` columns.
OTUS_TABLES: dict[str, str] = {name: columns_ddl(entity.arrow_schema)
                               for name, entity in ENTITIES.items()}
SIS_TABLES: dict[str, str] = {entity: columns_ddl(ep.arrow_schema)
                              for entity, ep in ENDPOINTS.items()}


# What the rules stage writes (checks/ and assets/transform/): accepted line items and
# results for the sink, one row per broken rule, and per-run rule counts for trend checks.
# Every table carries the grading period so a partition run can replace exactly its rows.
PASSBACK_TABLES: dict[str, str] = {
    "line_items": """
        district VARCHAR NOT NULL, grading_period_sourced_id VARCHAR NOT NULL,
        sourced_id VARCHAR NOT NULL, assignment_id VARCHAR NOT NULL,
        assessment_id VARCHAR NOT NULL, class_sourced_id VARCHAR NOT NULL,
        school_sourced_id VARCHAR, teacher_user_id VARCHAR, title VARCHAR NOT NULL,
        description VARCHAR, assign_date DATE NOT NULL, due_date DATE NOT NULL,
        category_sourced_id VARCHAR NOT NULL, result_value_min DOUBLE,
        result_value_max DOUBLE NOT NULL, status VARCHAR NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL, as_of DATE NOT NULL, computed_at TIMESTAMPTZ NOT NULL""",
    "results": """
        district VARCHAR NOT NULL, grading_period_sourced_id VARCHAR NOT NULL,
        sourced_id VARCHAR NOT NULL, line_item_sourced_id VARCHAR NOT NULL,
        assignment_id VARCHAR NOT NULL, class_sourced_id VARCHAR NOT NULL,
        student_sourced_id VARCHAR NOT NULL, score DOUBLE NOT NULL,
        score_status VARCHAR NOT NULL, score_date DATE NOT NULL, missing_is_zero BOOLEAN,
        status VARCHAR NOT NULL, updated_at TIMESTAMPTZ NOT NULL, as_of DATE NOT NULL,
        computed_at TIMESTAMPTZ NOT NULL""",
    "rejections": """
        district VARCHAR NOT NULL, grading_period_sourced_id VARCHAR, entity VARCHAR NOT NULL,
        assignment_id VARCHAR, assessment_id VARCHAR, class_sourced_id VARCHAR,
        class_title VARCHAR, student_sourced_id VARCHAR, teacher_user_id VARCHAR,
        teacher_name VARCHAR, title VARCHAR, rule VARCHAR NOT NULL, severity VARCHAR NOT NULL,
        message VARCHAR NOT NULL, as_of DATE NOT NULL, detected_at TIMESTAMPTZ NOT NULL""",
    "rule_stats": """
        district VARCHAR NOT NULL, grading_period_sourced_id VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL, computed_at TIMESTAMPTZ NOT NULL, as_of DATE NOT NULL,
        entity VARCHAR NOT NULL, rule VARCHAR NOT NULL, severity VARCHAR NOT NULL,
        candidates BIGINT NOT NULL, failures BIGINT NOT NULL""",
}


# What the sink writes (pipeline/sink, assets/sink): one ledger row per SIS object, upserted
# as outcomes arrive; one event per write request, appended as outcomes arrive; one row per
# run and partition with the count of every action; and every run's plan (dry runs too) less
# its `unchanged` rows. Events, plans and runs are trimmed after the district's
# `history_retention_days` (pipeline/sink/history.py; docs/sink.md, "History").
SINK_TABLES: dict[str, str] = {
    "sync_ledger": """
        district VARCHAR NOT NULL, entity VARCHAR NOT NULL, sourced_id VARCHAR NOT NULL,
        grading_period_sourced_id VARCHAR, line_item_sourced_id VARCHAR,
        payload_hash VARCHAR, state VARCHAR NOT NULL, http_status INTEGER,
        attempts INTEGER NOT NULL, last_error VARCHAR, first_sent_at TIMESTAMPTZ,
        last_sent_at TIMESTAMPTZ, run_id VARCHAR,
        PRIMARY KEY (district, entity, sourced_id)""",
    # The removals (and empty Otus entities) a sync of the partition last let through the
    # mass-change safeguard (pipeline/sink/safeguards.py): only new ones are counted again.
    "mass_change_confirmed": """
        district VARCHAR NOT NULL, grading_period_sourced_id VARCHAR NOT NULL,
        entity VARCHAR NOT NULL, sourced_id VARCHAR, action VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL, confirmed_at TIMESTAMPTZ NOT NULL""",
    "sync_plan": """
        district VARCHAR NOT NULL, grading_period_sourced_id VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL, planned_at TIMESTAMPTZ NOT NULL, dry_run BOOLEAN NOT NULL,
        entity VARCHAR NOT NULL, sourced_id VARCHAR NOT NULL, action VARCHAR NOT NULL,
        reason VARCHAR, payload_hash VARCHAR, payload VARCHAR""",
    # Where the SIS holds other values than Passback last wrote (pipeline/sink/drift.py):
    # one row per object and field, resolved (not deleted) once no longer seen.
    "sync_drift": """
        district VARCHAR NOT NULL, grading_period_sourced_id VARCHAR NOT NULL,
        entity VARCHAR NOT NULL, sourced_id VARCHAR NOT NULL, class_sourced_id VARCHAR,
        line_item_sourced_id VARCHAR, student_sourced_id VARCHAR, teacher_user_id VARCHAR,
        field VARCHAR NOT NULL, value_sent VARCHAR, value_in_sis VARCHAR,
        decision VARCHAR NOT NULL, first_seen_at TIMESTAMPTZ NOT NULL,
        last_seen_at TIMESTAMPTZ NOT NULL, resolved_at TIMESTAMPTZ, run_id VARCHAR NOT NULL,
        PRIMARY KEY (district, entity, sourced_id, field)""",
    # Append-only: (run_id, seq) names one request; `state` is the ledger state it led to,
    # or `unanswered` when the run died between sending it and hearing back.
    "sync_events": """
        district VARCHAR NOT NULL, run_id VARCHAR NOT NULL, seq BIGINT NOT NULL,
        requested_at TIMESTAMPTZ NOT NULL, answered_at TIMESTAMPTZ, entity VARCHAR NOT NULL,
        sourced_id VARCHAR NOT NULL, grading_period_sourced_id VARCHAR,
        line_item_sourced_id VARCHAR, class_sourced_id VARCHAR, student_sourced_id VARCHAR,
        action VARCHAR NOT NULL, payload_hash VARCHAR, http_status INTEGER,
        description VARCHAR, attempts INTEGER, state VARCHAR NOT NULL""",
    # What each district's SIS was found to offer (pipeline/sink/bulk.py): whether it took
    # OneRoster 1.2 bulk POSTs (NULL: not tried yet), whether it allocates its own
    # sourcedIds, when that was last seen, and the answer that decided it.
    "sis_capabilities": """
        district VARCHAR NOT NULL PRIMARY KEY, bulk_writes BOOLEAN, allocates_ids BOOLEAN,
        checked_at TIMESTAMPTZ NOT NULL, detail VARCHAR""",
    # One row per run and partition; the action columns are pipeline.sink.plan.ACTIONS.
    "sync_runs": """
        district VARCHAR NOT NULL, grading_period_sourced_id VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL, dry_run BOOLEAN NOT NULL, closed BOOLEAN NOT NULL,
        planned_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ,
        "create" BIGINT NOT NULL, "update" BIGINT NOT NULL, restore BIGINT NOT NULL,
        overwrite BIGINT NOT NULL, "delete" BIGINT NOT NULL, unchanged BIGINT NOT NULL,
        kept BIGINT NOT NULL, refused BIGINT NOT NULL, blocked BIGINT NOT NULL,
        invalid BIGINT NOT NULL, stopped BIGINT NOT NULL, frozen BIGINT NOT NULL,
        planned_requests BIGINT NOT NULL, requests BIGINT, write_requests BIGINT,
        PRIMARY KEY (district, grading_period_sourced_id, run_id)""",
}


# What the extract layer keeps beside the raw tables (assets/extract): SIS records it set aside
# instead of loading, and where each incremental SIS load resumes. A cursor is committed in
# the same transaction as the rows it covers.
EXTRACT_SIS_TABLES: dict[str, str] = {
    "quarantine": """
        district VARCHAR NOT NULL, entity VARCHAR NOT NULL, sourced_id VARCHAR,
        reason VARCHAR NOT NULL, record JSON, detected_at TIMESTAMPTZ NOT NULL""",
}
EXTRACT_PASSBACK_TABLES: dict[str, str] = {
    "extract_cursors": """
        district VARCHAR NOT NULL, entity VARCHAR NOT NULL, cursor VARCHAR NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (district, entity)""",
    # The last read of each SIS collection: when it started (before the first request, so
    # anything the sink wrote earlier is in it), full or incremental, and what it cost. The
    # sink's reconciliation trusts `sis.*` about an object only if read after its last write.
    "sis_reads": """
        district VARCHAR NOT NULL, entity VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ NOT NULL, mode VARCHAR NOT NULL, fetched BIGINT NOT NULL,
        requests BIGINT NOT NULL, PRIMARY KEY (district, entity)""",
    # Live rows (not marked deleted) of each Otus export entity at its latest load and at its
    # latest load that had any: the mass-change safeguard (pipeline/sink/safeguards.py) holds
    # a sync that follows an export emptying an entity which held rows before.
    "otus_load_counts": """
        district VARCHAR NOT NULL, entity VARCHAR NOT NULL, rows BIGINT NOT NULL,
        loaded_at TIMESTAMPTZ NOT NULL, last_nonempty_rows BIGINT,
        last_nonempty_at TIMESTAMPTZ, PRIMARY KEY (district, entity)""",
    # Which grading period each partition key names, stored with the academic sessions it
    # was computed from (pipeline/graph.py), so no asset re-derives it by scanning.
    "grading_period_partitions": """
        district VARCHAR NOT NULL, partition_key VARCHAR NOT NULL,
        grading_period_sourced_id VARCHAR NOT NULL,
        PRIMARY KEY (district, grading_period_sourced_id)""",
}


# Columns added to a table after it first shipped: a warehouse created before gets them on its
# next `ensure_schema` (new tables need no entry: CREATE TABLE IF NOT EXISTS makes them).
# Code that writes these tables names its columns: a positional INSERT breaks on the next one.
ADDED_COLUMNS: list[tuple[str, str, str]] = [
    # Where the SIS allocated its own sourcedId for a record Passback created (a bulk POST's
    # `sourcedIdPairs`): updates, reads and reconciliation address the SIS's. NULL: the same.
    ("passback.sync_ledger", "sis_sourced_id", "VARCHAR"),
    # The stored plan is what the sender reads (pipeline/sink/plan.py, written in SQL): a
    # result's line item, the SIS's sourcedIds to address, the fields where the SIS differs,
    # whether a result's line item is held before sending, and the order of the removals.
    ("passback.sync_plan", "line_item_sourced_id", "VARCHAR"),
    ("passback.sync_plan", "sis_sourced_id", "VARCHAR"),
    ("passback.sync_plan", "sis_line_item_sourced_id", "VARCHAR"),
    ("passback.sync_plan", "changes", "STRUCT(field VARCHAR, sis VARCHAR, planned VARCHAR)[]"),
    ("passback.sync_plan", "line_item_held", "BOOLEAN"),
    ("passback.sync_plan", "seq", "BIGINT"),
    # Writes go class by class: a bulk body (pipeline/sink/bulk.py) holds one class's line
    # items, or its results in the grading period, so in sourcedId order bodies came out a
    # tenth as full (120,000 line items of 2,000 classes in 19,904 bodies instead of 2,000).
    ("passback.sync_plan", "class_sourced_id", "VARCHAR"),
]


def ddl() -> list[str]:
    """CREATE statements for the raw schemas (idempotent), then the columns added since."""
    statements = ["CREATE SCHEMA IF NOT EXISTS otus", "CREATE SCHEMA IF NOT EXISTS sis",
                  "CREATE SCHEMA IF NOT EXISTS passback"]
    for schema, tables in (("otus", OTUS_TABLES), ("sis", SIS_TABLES),
                          ("passback", PASSBACK_TABLES), ("passback", SINK_TABLES),
                          ("sis", EXTRACT_SIS_TABLES), ("passback", EXTRACT_PASSBACK_TABLES)):
        statements += [f"CREATE TABLE IF NOT EXISTS {schema}.{name} ({columns})"
                       for name, columns in tables.items()]
    statements += [f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}"
                   for table, column, kind in ADDED_COLUMNS]
    return statements


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schemas and tables if they are not there yet."""
    for statement in ddl():
        conn.execute(statement)


# What DuckDB says about a file that is not a whole database: cut short (its metadata sits at
# the end, so a truncated file fails to open) or not a DuckDB file at all, both naming the file
# (so a truncated CSV that DuckDB reads is not mistaken for the warehouse), or a block whose
# checksum fails (found when a query reads it).
_DAMAGE_NAMING_FILE = ("could not read enough bytes from file", "is not a valid duckdb")
_DAMAGE = ("corrupt database file", "does not match stored checksum")


class WarehouseDamaged(dg.Failure):
    """The warehouse file is truncated or corrupt: permanent, so neither waited for nor
    retried (a lock held by another process is the case worth waiting for)."""

    def __init__(self, path: Path, error: BaseException) -> None:
        self.path = path
        super().__init__(
            f"the warehouse {path} is damaged (truncated or corrupt), so nothing was read or "
            f"written: {_first_line(error)}. Restore it from a backup, or move it aside and "
            "run again: the next run creates a new file and re-extracts the Otus export and "
            "the SIS (its sync ledger starts empty, so every grade is compared with the SIS "
            "afresh).", allow_retries=False)


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def is_damage(error: BaseException, path: Path) -> bool:
    """True when `error`, or an error it was raised from or during, says `path` is damaged.

    The chain matters: after a checksum failure inside a transaction, DuckDB answers every
    further statement with "Current transaction is aborted", which says nothing of the cause.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).lower()
        if isinstance(current, duckdb.Error) and (
                any(marker in text for marker in _DAMAGE) or
                (str(path).lower() in text and any(m in text for m in _DAMAGE_NAMING_FILE))):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_lock_conflict(error: BaseException) -> bool:
    """True when another process holds the DuckDB file (worth waiting for, not failing on).

    DuckDB says 'Could not set lock on file ...: Conflicting lock is held'; a bare "lock"
    would also match the "block" of a checksum failure.
    """
    text = str(error).lower()
    return isinstance(error, duckdb.IOException) and (
        "could not set lock" in text or "conflicting lock" in text)


# DuckDB's own default takes 80% of the machine's memory for its buffer pool, held until the
# file's last connection closes: a 50,000-student step then grew to several GiB. A step's
# budget is 1.5 GiB (issue 15), Python's share included; past this DuckDB spills to disk.
MEMORY_LIMIT_ENV = "PASSBACK_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "1GB"


def memory_limit() -> str:
    """DuckDB's memory limit for a warehouse connection ($PASSBACK_DUCKDB_MEMORY_LIMIT)."""
    return os.environ.get(MEMORY_LIMIT_ENV, "").strip() or DEFAULT_MEMORY_LIMIT


def open_duckdb(path: Path, *, read_only: bool = False, config: dict[str, Any] | None = None,
                lock_wait: float = 0.0) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect` with the warehouse's memory limit, waiting up to `lock_wait` seconds
    while another process holds the file, and failing at once with `WarehouseDamaged` when
    the file is truncated or corrupt."""
    give_up, pause = time.monotonic() + lock_wait, 0.05
    while True:
        try:
            conn = duckdb.connect(str(path), read_only=read_only, config=config or {})
            # A SET, not a connect option: a second connection to the same file in this
            # process would be refused for asking a different configuration.
            conn.execute("SET memory_limit = ?", [memory_limit()])
            return conn
        except duckdb.Error as error:
            if is_damage(error, path):
                raise WarehouseDamaged(path, error) from error
            if not _is_lock_conflict(error) or time.monotonic() > give_up:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


@contextmanager
def private_connection(
    path: Path, open_file: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    *, read_only: bool = False,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection opened by `open_file` with the warehouse's privacy rules and schemas.

    Grades are student records: the folder is owner-only (DuckDB creates the WAL later, under
    the process umask, so the folder is what keeps it private), and a new file is created
    owner-only. The umask is process-wide, so it is restored as soon as the file is open.

    A damaged file (truncated, or a block whose checksum fails while the connection is in
    use) raises `WarehouseDamaged`, naming the file and what to do, however DuckDB said it.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        with ExitStack() as stack:
            old_umask = os.umask(0o077)
            try:
                conn = stack.enter_context(open_file())
            finally:
                os.umask(old_umask)
            if not read_only:
                ensure_schema(conn)
            yield conn
    except WarehouseDamaged:
        raise
    except Exception as error:
        if is_damage(error, path):
            raise WarehouseDamaged(path, error) from error
        raise


@contextmanager
def connect(
    path: Path | None = None, *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection to the warehouse file, created owner-only if new."""
    path = path or warehouse_path()
    with private_connection(
        path, lambda: closing(open_duckdb(path, read_only=read_only)), read_only=read_only,
    ) as conn:
        yield conn


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT around the block; on any exception, interrupts too, roll back and re-raise.

    A failed COMMIT is rolled back as well, so the previous rows stay whole either way.
    """
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException as error:
        _roll_back(conn, error)
        raise


def _roll_back(conn: duckdb.DuckDBPyConnection, error: BaseException) -> None:
    try:
        conn.execute("ROLLBACK")
    except duckdb.Error as failed:
        # DuckDB may have ended the transaction already (a failed COMMIT) or lost the
        # connection: the first error is the one to see, so this one is only noted on it.
        error.add_note(f"rollback failed too: {failed}")
