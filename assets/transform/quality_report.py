"""The quality-check report asset: reads a partition's passback tables and writes the
report (HTML + CSV) for the district's administrators and teachers."""

import os
from pathlib import Path

import dagster as dg

from assets.transform.passback_rules import GROUP, KINDS, POOL
from checks.report.data import load_report_data
from checks.report.render import markdown_summary, write_report
from pipeline.graph import (
    LINE_ITEMS,
    QUALITY_REPORT,
    REJECTIONS,
    RESULTS,
    district_grading_period_partitions,
    grading_period_for_key,
    partition_dimensions,
)
from pipeline.resources import Warehouse


def report_folder(warehouse_file: str, district: str, grading_period_key: str) -> Path:
    """`$PASSBACK_REPORTS_DIR/<district>/<period>/`, else beside the warehouse file."""
    base = os.environ.get("PASSBACK_REPORTS_DIR")
    root = Path(base) if base else Path(warehouse_file).parent / "reports"
    return root / district / grading_period_key


@dg.asset(
    key=QUALITY_REPORT, deps=[LINE_ITEMS, RESULTS, REJECTIONS],
    partitions_def=district_grading_period_partitions, pool=POOL, group_name=GROUP,
    kinds=KINDS,
)
def quality_report(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Reads the partition's passback.rejections (and the district-level rows), the accepted
    counts and the rule history, and writes an HTML page with a chart of rejections by rule
    plus CSVs of counts per rule, teacher and class; no student names, sourcedIds only."""
    district, grading_period_key = partition_dimensions(context)
    with warehouse.get_connection() as conn:
        grading_period = grading_period_for_key(conn, district, grading_period_key)
        data = load_report_data(conn, district, grading_period)
    # Rendering and file I/O happen after the warehouse connection is released.
    paths = write_report(data, report_folder(str(warehouse.path()), district, grading_period_key))
    return dg.MaterializeResult(metadata={
        "summary": dg.MetadataValue.md(markdown_summary(data, paths["html"])),
        "report_path": dg.MetadataValue.path(str(paths["html"])),
        "summary_csv": dg.MetadataValue.path(str(paths["summary_csv"])),
        "rejection_rows": len(data.rejections),
        "rejects": data.total_rejects,
    })
