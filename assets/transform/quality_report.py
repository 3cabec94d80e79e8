"""The quality-check report asset: reads a partition's passback tables and writes the
report (HTML + CSV) for the district's administrators and teachers."""

import os
from pathlib import Path

import dagster as dg

from assets.transform.passback_rules import (
    GROUP,
    KINDS,
    LINE_ITEMS,
    POOL,
    REJECTIONS,
    RESULTS,
    resolve_grading_period,
)
from pipeline.partitions import GRADING_PERIODS, district_grading_period_partitions
from pipeline.report.data import load_report_data
from pipeline.report.render import markdown_summary, write_report
from pipeline.resources import Warehouse


def report_folder(warehouse_file: str, district: str, grading_period_key: str) -> Path:
    """`$PASSBACK_REPORTS_DIR/<district>/<period>/`, else beside the warehouse file."""
    base = os.environ.get("PASSBACK_REPORTS_DIR")
    root = Path(base) if base else Path(warehouse_file).parent / "reports"
    return root / district / grading_period_key


@dg.asset(
    key=["passback", "quality_report"], deps=[LINE_ITEMS, RESULTS, REJECTIONS],
    partitions_def=district_grading_period_partitions, pool=POOL, group_name=GROUP,
    kinds=KINDS,
)
def quality_report(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Reads the partition's passback.rejections (and the district-level rows), the accepted
    counts and the rule history, and writes an HTML page with a chart of rejections by rule
    plus CSVs of counts per rule, teacher and class; no student names, sourcedIds only."""
    keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    district, period_key = keys["district"], keys[GRADING_PERIODS]
    with warehouse.get_connection() as conn:
        gp = resolve_grading_period(conn, district, period_key)
        data = load_report_data(conn, district, gp)
    # Rendering and file I/O happen after the warehouse connection is released.
    paths = write_report(data, report_folder(str(warehouse.path()), district, period_key))
    return dg.MaterializeResult(metadata={
        "summary": dg.MetadataValue.md(markdown_summary(data, paths["html"])),
        "report_path": dg.MetadataValue.path(str(paths["html"])),
        "summary_csv": dg.MetadataValue.path(str(paths["summary_csv"])),
        "rejection_rows": len(data.rejections),
        "rejects": data.total_rejects,
    })
