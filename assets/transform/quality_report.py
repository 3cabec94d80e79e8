"""The quality-check report asset: after the rules and the sink, reads a partition's
passback tables and writes the report (HTML + CSV) for the district's administrators and
teachers, with what the SIS refused and what it holds otherwise.

Why a graph-backed asset: the report follows the sink (`passback/sis_sync`) in the lineage,
but a dry run's sink yields no output (it is an observation, so freshness keeps measuring
real syncs), and Dagster skips a step whose upstream output is missing. So two small ops note
that the rules and the sink are done, and the report's op takes both as one fan-in input,
which Dagster runs when either arrived: after the sink, in a dry run too. (A fan-in straight
over the graph's inputs cannot be planned when an upstream partition is not in the run.) A
failed sink, or failed rules, still stop the report.
"""

import os
from datetime import datetime
from pathlib import Path

import dagster as dg

from assets.transform.passback_rules import GROUP, KINDS, POOL
from checks.report.build import WrittenReport, write_quality_report
from checks.report.render import markdown_summary
from pipeline.graph import (
    LINE_ITEMS,
    QUALITY_REPORT,
    REJECTIONS,
    RESULTS,
    SIS_SYNC,
    district_grading_period_partitions,
    grading_period_for_key,
)
from pipeline.resources import Districts, Warehouse

UPSTREAM = {"line_items": LINE_ITEMS, "results": RESULTS, "rejections": REJECTIONS,
            "sis_sync": SIS_SYNC}


def report_folder(warehouse_file: str, district: str, grading_period_key: str) -> Path:
    """`$PASSBACK_REPORTS_DIR/<district>/<period>/`, else beside the warehouse file."""
    base = os.environ.get("PASSBACK_REPORTS_DIR")
    root = Path(base) if base else Path(warehouse_file).parent / "reports"
    return root / district / grading_period_key


def report_metadata(written: WrittenReport) -> dict[str, dg.MetadataValue | int | bool]:
    """The headline as Markdown, the page's location and the counts; never a student."""
    data = written.data
    html = written.paths["html"]
    # A closed period asks nothing of anyone: its counts are for the record (`rejects`).
    count = (lambda _category: 0) if data.scope.closed else data.count
    return {
        "summary": dg.MetadataValue.md(markdown_summary(data, html)),
        "report_path": dg.MetadataValue.path(str(html)),
        "report_url": dg.MetadataValue.url(html.resolve().as_uri()),
        "summary_csv": dg.MetadataValue.path(str(written.paths["summary_csv"])),
        "closed": data.scope.closed,
        "to_fix": count("fix"),
        "refused_by_the_sis": count("sis_refused"),
        "waiting_on_a_refused_line_item": count("follows"),
        "not_ready": count("not_ready"),
        "rejection_rows": data.rejection_rows,
        "rejects": data.total_rejects,
        "district_level_problems": data.district_level,
    }


@dg.op(ins={"line_items": dg.In(dg.Nothing), "results": dg.In(dg.Nothing),
            "rejections": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing))
def rules_done() -> None:
    """The rules wrote the partition's tables."""


@dg.op(ins={"sis_sync": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing))
def sink_done() -> None:
    """The sink synced or, in a dry run, planned (then this op is skipped: see the module)."""


@dg.op(ins={"after": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing), pool=POOL,
       tags={"kind": "duckdb"})
def write_quality_report_op(context: dg.OpExecutionContext, warehouse: Warehouse,
                            districts: Districts):
    """Write the partition's report and the district-level one; yields the asset's output
    with the headline as metadata."""
    keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    district = districts.get(keys["district"])
    folder = report_folder(str(warehouse.path()), district.district, keys["grading_period"])
    with warehouse.get_connection() as conn:
        grading_period = grading_period_for_key(conn, district.district, keys["grading_period"])
        written = write_quality_report(conn, district, grading_period, folder,
                                       today=datetime.now(district.zone).date())
    yield dg.Output(None, metadata=report_metadata(written))


@dg.graph_asset(
    key=QUALITY_REPORT, ins={name: dg.AssetIn(key, dagster_type=dg.Nothing)
                             for name, key in UPSTREAM.items()},
    partitions_def=district_grading_period_partitions, group_name=GROUP, kinds=KINDS,
    description="Reads the partition's passback.rejections (the rules' and the SIS's "
                "refusals), the accepted counts, the rule history and passback.sync_drift, "
                "after the sink; writes an HTML page (headline of what teachers must fix, "
                "apart from what follows from it and what is not ready; a chart by rule; one "
                "section per teacher; SIS refusals and edits) and CSVs, plus the "
                "district-level report of rows in no grading period, counted there only. "
                "Students by SIS sourcedId; names only in the per-teacher files, when the "
                "district turns report.student_names on.",
)
def quality_report(line_items, results, rejections, sis_sync):  # noqa: ANN001, ANN201
    """One fan-in input: the report runs when either the rules or the sink are done."""
    rules = rules_done(line_items=line_items, results=results, rejections=rejections)
    return write_quality_report_op(after=[rules, sink_done(sis_sync=sis_sync)])
