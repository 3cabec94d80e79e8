"""Planning a partition in DuckDB: into `passback.sync_plan` for a run (`write_plan`, which
`pipeline.sink.run.store_plan` calls in its transaction) or into a temporary table read back
as actions (`plan_partition`: `passback plan`, tests, benchmarks). The SQL is in
plan_sql.py; what a plan is, and how it is read, in plan.py.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.config import DistrictConfig
from pipeline.sink.payloads import (
    LINE_ITEMS,
    RESULTS,
    PayloadBuilder,
    is_legacy_hash,
    legacy_payload_hash,
    v2_payload_hash,
)
from pipeline.sink.plan import (
    LEGACY_SCHEMA,
    StoredPlan,
    SyncPlan,
    closed_grading_periods,
    planning_settings,
)
from pipeline.sink.plan_sql import (
    ACTIONS,
    FROZEN_REASON,
    older_hashes_sql,
    plan_insert_sql,
    removals_insert_sql,
)
from pipeline.warehouse import ADDED_COLUMNS, SINK_TABLES

JSON = dict[str, Any]


def older_hashes(conn: duckdb.DuckDBPyConnection, builder: PayloadBuilder, district: str,
                 grading_period: str, batch_rows: int = 10_000) -> pa.Table:
    """Ledger rows of the partition whose hash, from an older release, is today's payload's:
    `v2:` over the record, or unprefixed over the body with today's hrefs. Each such row is
    built in Python here, once: `run_sync` rewrites it to today's hash (LEGACY_SCHEMA)."""
    columns: dict[str, list[str]] = {name: [] for name in LEGACY_SCHEMA.names}
    params = {"district": district, "grading_period": grading_period}
    for entity in (LINE_ITEMS, RESULTS):
        cursor = conn.execute(older_hashes_sql(entity, builder.version, builder.zone.key),
                              params)
        names = [column[0] for column in cursor.description]
        while batch := cursor.fetchmany(batch_rows):
            for values in batch:
                row = dict(zip(names, values, strict=True))
                record = builder.content(entity, row)
                held = row["held"]
                if held == v2_payload_hash(record) or (
                        is_legacy_hash(held)
                        and held == legacy_payload_hash(builder.hrefs.link(record))):
                    for name, value in zip(LEGACY_SCHEMA.names, (
                            entity, row["sourced_id"], held, row["new_hash"]), strict=True):
                        columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=LEGACY_SCHEMA)


def write_plan(conn: duckdb.DuckDBPyConnection, config: DistrictConfig, grading_period: str,
               *, as_of: date, target: str, run_id: str, dry_run: bool,
               builder: PayloadBuilder | None = None, reconcile: bool = True,
               planned_at: datetime | None = None) -> SyncPlan:
    """Plan one district and grading period into the plan table `target` (the run's rows,
    every action but `unchanged`) and return the plan with its counts; its rows are read back
    through `SyncPlan.stored`, which the caller sets. Call it inside a transaction, so the
    counts and the rows see the same warehouse.

    `reconcile=False` trusts the ledger alone (nothing restored, no drift): only to measure
    what comparing with the SIS costs."""
    builder = builder or PayloadBuilder.for_district(config)
    district = config.district
    closed = grading_period in closed_grading_periods(conn, config, as_of)
    legacy = older_hashes(conn, builder, district, grading_period)
    params: JSON = {"district": district, "grading_period": grading_period, "run_id": run_id,
                    "planned_at": planned_at or datetime.now(UTC), "dry_run": dry_run}
    partition = {"district": district, "grading_period": grading_period}
    sizes = dict(conn.execute(_SIZES_SQL, partition).fetchall())
    # Bound once: as a subquery in the plan, DuckDB joined it to every row.
    reads = dict(conn.execute("SELECT entity, max(started_at) FROM passback.sis_reads "
                              "WHERE district = $district GROUP BY entity",
                              {"district": district}).fetchall())
    written = 0
    conn.register("plan_legacy", legacy)
    try:
        with planning_settings(conn):
            for entity in (LINE_ITEMS, RESULTS):
                sql = plan_insert_sql(entity, target=target, version=builder.version,
                                      zone=builder.zone.key, modified=builder.modified,
                                      closed=closed, reconcile=reconcile,
                                      keep_sis_edits=config.passback.sis_edits == "keep")
                bound = dict(params)
                if reconcile:
                    bound["last_read"] = reads.get(entity)
                written += _inserted(conn.execute(sql, bound))
            conn.execute(removals_insert_sql(target), params
                         | _removal(closed, config.passback.propagate_deletions))
    finally:
        conn.unregister("plan_legacy")
    counts = dict(conn.execute(
        f"SELECT action, count(*) FROM {target} WHERE district = $district AND "
        "grading_period_sourced_id = $grading_period AND run_id = $run_id GROUP BY action",
        {"district": district, "grading_period": grading_period, "run_id": run_id}
    ).fetchall())
    # Every accepted row is written or unchanged.
    counts["unchanged"] = sum(sizes.values()) - written
    return SyncPlan(district, grading_period, closed, hrefs=builder.hrefs,
                    planned={name: int(counts.get(name, 0)) for name in ACTIONS},
                    legacy=legacy if legacy.num_rows else None)


_SIZES_SQL = """
SELECT 'line_items', count(*) FROM passback.line_items
WHERE district = $district AND grading_period_sourced_id = $grading_period
UNION ALL
SELECT 'results', count(*) FROM passback.results
WHERE district = $district AND grading_period_sourced_id = $grading_period
"""
def _inserted(cursor: duckdb.DuckDBPyConnection) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def _removal(closed: bool, propagate: bool) -> JSON:
    """The action and reason of the partition's removals."""
    if closed:
        return {"action": "frozen", "reason": FROZEN_REASON}
    if propagate:
        return {"action": "delete", "reason": "no longer passed back"}
    return {"action": "stopped", "reason": "no longer passed back; the SIS keeps it "
                                           "(passback.propagate_deletions is off)"}


_SCRATCH = "plan_scratch"  # the temporary plan table of a plan that is not stored


def _plan_columns() -> str:
    """`passback.sync_plan`'s columns as declared today, for a scratch copy: declared, not
    copied, since a read-only connection to an older warehouse lacks the added columns."""
    added = [f"{column} {kind}" for table, column, kind in ADDED_COLUMNS
             if table == "passback.sync_plan"]
    return ", ".join([SINK_TABLES["sync_plan"].strip(), *added])


def plan_partition(conn: duckdb.DuckDBPyConnection, config: DistrictConfig,
                   grading_period: str, *, as_of: date, builder: PayloadBuilder | None = None,
                   reconcile: bool = True) -> SyncPlan:
    """The sync plan of one district and grading period, writing nothing to the warehouse:
    planned into a temporary table of `conn` and read back into `actions` (every action but
    `unchanged`, which is only counted), in send order."""
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {_SCRATCH} ({_plan_columns()})")
    try:
        plan = write_plan(conn, config, grading_period, as_of=as_of, target=_SCRATCH,
                          run_id="scratch", dry_run=True, builder=builder, reconcile=reconcile)
        plan.stored = StoredPlan(lambda: nullcontext(conn), "scratch", _SCRATCH)
        plan.actions = list(plan.select(ACTIONS, conn=conn))
        plan.stored = None
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {_SCRATCH}")
    return plan
