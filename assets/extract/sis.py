"""SIS extract assets: one asset per OneRoster collection, generated from the endpoint table.

Each asset reads its collection for one district (changes since the last cursor, or all of it
on a full refresh), then writes `sis.<entity>` in one transaction with the set-aside records
and the new cursor. The network comes first and the warehouse after, so no DuckDB connection
is held while the SIS answers.
"""


import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from assets.extract.loading import (
    Changes,
    read_cursor,
    release_memory,
    save_cursor,
    write_quarantine,
    write_table,
)
from pipeline.config import ConfigError, DistrictConfig
from pipeline.grading_periods import grading_periods, grading_periods_metadata
from pipeline.graph import ACADEMIC_SESSIONS, SIS_GROUP, sis_key, store_grading_period_keys
from pipeline.oneroster import (
    ENDPOINTS,
    Endpoint,
    Extract,
    OneRosterClient,
    OneRosterError,
    OneRosterResource,
)
from pipeline.resources import Districts, Warehouse
from pipeline.sink.progress import progress_every, read_line
from pipeline.warehouse import transaction

Connect = Callable[[], AbstractContextManager[Any]]

GROUP = SIS_GROUP
KINDS = {"oneroster", "duckdb"}
POOL = "duckdb_warehouse"


class ExtractConfig(dg.Config):
    """Run configuration of an extract asset."""

    full_refresh: bool = False  # ignore the cursor: reload everything and apply hard deletes


def describe(ep: Endpoint) -> str:
    """The asset's description: what it reads, what it writes, what it reports."""
    required = ", ".join(ep.required)
    return (
        f"Reads the district's OneRoster `{ep.paths['1.2']}` collection from the SIS "
        f"{ep.service} service (records changed since the last cursor, or all of them on a "
        f"full refresh), writes them to sis.{ep.entity} in one transaction with the new cursor, "
        f"removes records the SIS marks `tobedeleted`, sets aside records missing "
        f"{required} in sis.quarantine, and reports rows, new and changed rows, pages, "
        "requests, retries, quarantined records and duration."
    )


def load_entity(ep: Endpoint, district: str, full_refresh: bool, warehouse: Warehouse,
                districts: Districts, oneroster: OneRosterResource) -> dg.MaterializeResult:
    """Fetch one collection for one district, then write it; return the run's metadata."""
    config = districts.get(district)
    try:
        return read_entity(ep, config, full_refresh, warehouse.get_connection,
                           lambda: oneroster.reader(config))
    except (OneRosterError, ConfigError) as exc:
        if isinstance(exc, OneRosterError) and exc.transient:
            raise  # the SIS may be back in a minute: the step's retry policy may try again
        # Wrong credentials, an HTML or unrecognised 200, a 403 do not heal in a minute: fail
        # now with the cause, no step retries (the transient/permanent split is policy.py's).
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    finally:
        release_memory()  # a collection's records, as dicts, are the step's peak


# The collections the sink reconciles with (pipeline/sink/plan.py): after an incremental
# read, their size is checked against the SIS's, because an incremental read cannot see a
# record the SIS deleted outright (no `tobedeleted`) or lost in a restart.
RECONCILED = frozenset({"line_items", "results"})


def read_entity(ep: Endpoint, config: DistrictConfig, full_refresh: bool, connect: Connect,
                reader: Callable[[], AbstractContextManager[OneRosterClient]],
                ) -> dg.MaterializeResult:
    """Read one collection of one district from the SIS (changes since the cursor, or all of
    it), then write `sis.<entity>`, its set-aside records, the cursor and the read's
    `passback.sis_reads` row in one transaction; the network first, the warehouse after.

    A reconciled collection read incrementally is then counted: if the SIS says it holds
    fewer records than the warehouse has, records went missing without a trace, and the
    collection is read again in full (one request more a night, a full read only then)."""
    started, began = time.monotonic(), datetime.now(UTC)
    district = config.district
    with connect() as conn:
        since = None if full_refresh else read_cursor(conn, district, ep.entity)
    full = since is None
    with reader() as client, progress_every(lambda: _progress(district, ep.entity, client),
                                            dg.get_dagster_logger().info):
        extract = client.extract(ep.entity, since=since)
        total = None if full or ep.entity not in RECONCILED else client.total(ep.entity)
    with connect() as conn, transaction(conn):
        changes = write_table(conn, f"sis.{ep.entity}", district, extract.rows, ["sourced_id"],
                              full=full, deleted=extract.deleted)
        write_quarantine(conn, district, extract, full=full)
        save_cursor(conn, district, ep.entity, extract.cursor or since, full=full)
        conn.execute("INSERT OR REPLACE INTO passback.sis_reads VALUES (?, ?, ?, ?, ?, ?, ?)",
                     [district, ep.entity, began, datetime.now(UTC),
                      "full" if full else "incremental", extract.rows.num_rows,
                      extract.stats.requests])
        is_sessions = sis_key(ep.entity) == ACADEMIC_SESSIONS
        grading_period_metadata = _grading_periods(conn, config) if is_sessions else {}
    if total is not None and total < changes.rows:
        dg.get_dagster_logger().info(
            f"{district}: the SIS holds {total} {ep.entity}, the warehouse {changes.rows} "
            "after the incremental read: some went missing in the SIS; reading them in full")
        result = read_entity(ep, config, True, connect, reader)
        return dg.MaterializeResult(metadata={
            **(result.metadata or {}), "sis_total_before_full_read": total,
            "warehouse_rows_before_full_read": changes.rows})
    metadata = _metadata(extract, changes, full, since, time.monotonic() - started)
    return dg.MaterializeResult(metadata={**metadata, **grading_period_metadata})


def _progress(district: str, entity: str, client: OneRosterClient) -> str:
    stats, (total, page_size) = client.stats, client.reading
    return f"{district}: " + read_line(entity, stats.pages, stats.requests, stats.retries,
                                       stats.seconds, total, page_size)


def read_gradebook(config: DistrictConfig, full_refresh: bool, connect: Connect,
                   reader: Callable[[], AbstractContextManager[OneRosterClient]],
                   ) -> dict[str, dg.MaterializeResult]:
    """`read_entity` of each collection the sink reconciles with (line items, then results),
    as the nightly extract reads them; for callers outside Dagster (benchmarks, tests)."""
    return {entity: read_entity(ENDPOINTS[entity], config, full_refresh, connect, reader)
            for entity in sorted(RECONCILED)}


def _grading_periods(conn: Any, config: DistrictConfig) -> dict[str, Any]:
    """Store which grading period each partition key names (in the sessions' transaction),
    and return the district's grading periods and their state today, for the scheduler's
    sensor (which reads the event log, never the warehouse) and for the UI."""
    collisions = store_grading_period_keys(conn, config.district)
    for key, sourced_ids in collisions.items():
        # Not fatal here: only the colliding partition fails, when a run looks its key up.
        dg.get_dagster_logger().warning(
            f"{config.district}: grading periods {', '.join(sourced_ids)} share the partition "
            f"key {key!r}; passback runs of that key will fail until the SIS renames one")
    today = datetime.now(tz=config.zone).date()
    return grading_periods_metadata(grading_periods(conn, config, today), today)


def _metadata(extract: Extract, changes: Changes, full: bool, since: str | None,
              seconds: float) -> dict[str, Any]:
    return {
        "mode": "full" if full else "incremental",
        "since": since or "",
        "cursor": extract.cursor or since or "",
        "rows": dg.MetadataValue.int(changes.rows),
        "fetched": dg.MetadataValue.int(extract.rows.num_rows),
        "new": dg.MetadataValue.int(changes.new),
        "changed": dg.MetadataValue.int(changes.changed),
        "deleted": dg.MetadataValue.int(changes.deleted),
        "quarantined": dg.MetadataValue.int(len(extract.quarantined)),
        "pages": dg.MetadataValue.int(extract.stats.pages),
        "requests": dg.MetadataValue.int(extract.stats.requests),
        "retries": dg.MetadataValue.int(extract.stats.retries),
        "duration_seconds": dg.MetadataValue.float(round(seconds, 3)),
    }


def build_sis_asset(ep: Endpoint, partitions_def: dg.PartitionsDefinition
                    ) -> dg.AssetsDefinition:
    """The extract asset of one endpoint row, partitioned by district."""

    @dg.asset(key=sis_key(ep.entity), group_name=GROUP, kinds=KINDS,
              partitions_def=partitions_def, pool=POOL, description=describe(ep))
    def sis_entity(context: AssetExecutionContext, config: ExtractConfig,
                   warehouse: Warehouse, districts: Districts,
                   oneroster: OneRosterResource) -> dg.MaterializeResult:
        return load_entity(ep, context.partition_key, config.full_refresh, warehouse,
                           districts, oneroster)

    return sis_entity


def build_sis_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """One extract asset per OneRoster endpoint in the table."""
    return [build_sis_asset(ep, partitions_def) for ep in ENDPOINTS.values()]
