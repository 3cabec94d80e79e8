"""Otus extract: the five export files as five assets that are loaded together.

The whole export is read and checked against the contract first; only a valid export is
written, and its five tables are replaced in one transaction. A bad export therefore fails
the run with the file, column and rows at fault, and the last good load stays in place.
"""


import time
from collections.abc import Iterator

import dagster as dg
from dagster import AssetExecutionContext

from assets.extract.loading import Changes, write_table
from pipeline.graph import OTUS_GROUP, otus_key
from pipeline.otus import ENTITIES, ExportContractError, read_export
from pipeline.resources import Districts, Warehouse
from pipeline.warehouse import transaction

GROUP = OTUS_GROUP
KINDS = {"otus", "duckdb"}
POOL = "duckdb_warehouse"

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
            export = read_export(config.export_location(), config.zone, district)
        except ExportContractError as exc:
            raise dg.Failure(description=str(exc),
                             metadata={"problems": dg.MetadataValue.int(len(exc.problems))},
                             allow_retries=False) from None
        changes: dict[str, Changes] = {}
        with warehouse.get_connection() as conn, transaction(conn):
            for name, frame in export.tables.items():
                changes[name] = write_table(conn, f"otus.{name}", district, frame,
                                            ENTITIES[name].key, full=True)
        seconds = round(time.monotonic() - started, 3)
        for name, change in changes.items():
            yield dg.MaterializeResult(asset_key=otus_key(name), metadata={
                "rows": dg.MetadataValue.int(change.rows),
                "new": dg.MetadataValue.int(change.new),
                "changed": dg.MetadataValue.int(change.changed),
                "source": export.files[name].location,
                "format": export.files[name].format,
                "duration_seconds": dg.MetadataValue.float(seconds),
            })

    return otus_export
