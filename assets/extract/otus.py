"""Otus extract: the five export files as five assets that are loaded together.

The whole export is read and checked against the contract first; only a valid export is
written, and its five tables are replaced in one transaction. A bad export therefore fails
the run with the file, column and rows at fault, and the last good load stays in place.
Each load also records every entity's live rows (those not marked deleted) in
passback.otus_load_counts: an export that empties an entity which held rows before is
contract-valid, so the sink's mass-change safeguard holds the sync that follows it.
"""


import time
from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import duckdb
from dagster import AssetExecutionContext

from assets.extract.loading import attached, release_memory, write_table
from pipeline.graph import OTUS_GROUP, otus_key
from pipeline.otus import ENTITIES, ExportContractError, stage_export
from pipeline.resources import Districts, Warehouse
from pipeline.warehouse import transaction

GROUP = OTUS_GROUP
KINDS = {"otus", "duckdb"}
POOL = "duckdb_warehouse"
STAGE = "otus_stage"  # the staged export, attached read-only while it is copied

DESCRIPTIONS = {
    "users": "Otus users (teachers, administrators, students) with their SIS sourcedIds",
    "passback_group": "members of the district's Gradebook Passback Teacher Group",
    "assessments": "assessments with their type, grading method, points and final-grade flag",
    "class_assignments": "assessments assigned to classes: the future SIS line items",
    "scores": "students' scores on class assignments: the future SIS results",
}


def describe(entity: str) -> str:
    """The asset's description: what it reads, what it writes, what it reports."""
    return (f"Reads `{entity}` from the district's Otus gradebook export ({DESCRIPTIONS[entity]}), "
            f"checks it against the export contract, writes otus.{entity} together with the "
            "other four export tables in one transaction, and reports rows, new and changed "
            "rows, the source file and duration.")


# Upserted per entity: `last_nonempty_*` keep the latest load that had live rows, so a second
# empty export does not forget that the entity held rows before.
_LOAD_COUNTS_SQL = """
INSERT INTO passback.otus_load_counts
VALUES ($district, $entity, $rows, $now, CASE WHEN $rows > 0 THEN $rows END,
        CASE WHEN $rows > 0 THEN $now END)
ON CONFLICT (district, entity) DO UPDATE SET
    rows = EXCLUDED.rows, loaded_at = EXCLUDED.loaded_at,
    last_nonempty_rows = COALESCE(EXCLUDED.last_nonempty_rows, last_nonempty_rows),
    last_nonempty_at = COALESCE(EXCLUDED.last_nonempty_at, last_nonempty_at)
"""


def record_load_counts(conn: duckdb.DuckDBPyConnection, district: str,
                       live_rows: dict[str, int]) -> list[str]:
    """Record each entity's live rows (rows not marked deleted; inside the load's
    transaction); returns the entities this load emptied although an earlier load had
    live rows."""
    emptied = [name for (name,) in conn.execute(
        "SELECT entity FROM passback.otus_load_counts WHERE district = ? AND "
        "last_nonempty_rows > 0", [district]).fetchall()
        if name in live_rows and live_rows[name] == 0]
    now = datetime.now(UTC)
    for name, rows in live_rows.items():
        conn.execute(_LOAD_COUNTS_SQL, {"district": district, "entity": name,
                                        "rows": rows, "now": now})
    return sorted(emptied)


def build_otus_assets(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The five Otus tables as one multi-asset, partitioned by district."""
    specs = [dg.AssetSpec(otus_key(name), group_name=GROUP, kinds=KINDS,
                          description=describe(name), partitions_def=partitions_def)
             for name in ENTITIES]

    @dg.multi_asset(name="otus_export", specs=specs, partitions_def=partitions_def,
                    pool=POOL, can_subset=False)
    def otus_export(context: AssetExecutionContext, warehouse: Warehouse,
                    districts: Districts) -> Iterator[dg.MaterializeResult]:
        """Reads the district's Otus export, validates all five files, and replaces the five
        otus.* tables in one transaction; reports per table rows, new and changed rows."""
        started = time.monotonic()
        district = context.partition_key
        config = districts.get(district)
        try:
            # Read and checked in a DuckDB file of its own, beside the warehouse (owner-only,
            # on the warehouse's disk rather than a /tmp that may be memory); the warehouse
            # copies the typed tables from there.
            with stage_export(config.export_location(), config.zone, district,
                              folder=warehouse.path().parent) as export, \
                    warehouse.get_connection() as conn, \
                    attached(conn, export.database, STAGE), transaction(conn):
                changes = {name: write_table(conn, f"otus.{name}", district,
                                             f'{STAGE}."{name}"', ENTITIES[name].key, full=True)
                           for name in ENTITIES}
                emptied = record_load_counts(conn, district, export.live_rows)
        except ExportContractError as exc:  # a broken file does not heal: no retry
            raise dg.Failure(description=str(exc),
                             metadata={"problems": dg.MetadataValue.int(len(exc.problems))},
                             allow_retries=False) from None
        release_memory()
        if emptied:
            context.log.warning(
                f"the Otus export empties {', '.join(emptied)} (no live rows, where an earlier "
                "export had some): the sink will hold any sync of this district until a person "
                "confirms it (`passback run --allow-mass-change`)")
        seconds = round(time.monotonic() - started, 3)
        for name, change in changes.items():
            yield dg.MaterializeResult(asset_key=otus_key(name), metadata={
                "rows": dg.MetadataValue.int(change.rows),
                "new": dg.MetadataValue.int(change.new),
                "changed": dg.MetadataValue.int(change.changed),
                "source": export.files[name].location,
                "format": export.files[name].format,
                "duration_seconds": dg.MetadataValue.float(seconds),
                "live_rows": dg.MetadataValue.int(export.live_rows[name]),
            })

    return otus_export
