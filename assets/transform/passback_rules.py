"""The rules asset: reads the raw otus.* and sis.* tables of a district, applies the rule
catalog, and writes the partition's accepted line items and results and its rejections."""


from datetime import date, datetime

import dagster as dg
import pandas as pd

from assets.transform.rules_run import PartitionRun, compute_partition, write_partition
from checks.asset_checks import RULES_CHECK_SPECS, rate_changes, rate_jump_result
from pipeline.graph import (
    LINE_ITEMS,
    REJECTIONS,
    RESULTS,
    RULES_GROUP,
    RULES_OP,
    by_district,
    district_grading_period_partitions,
    grading_period_for_key,
    otus_key,
    partition_dimensions,
    sis_key,
)
from pipeline.resources import Districts, Warehouse
from pipeline.rule_settings import RunSettings

GROUP = RULES_GROUP
KINDS = {"duckdb", "pandera"}
POOL = "duckdb_warehouse"
# DuckDB's share of this step's 1.5 GiB: besides DuckDB the step holds the district's line
# items and a batch of results as frames. At 50,000 students the step peaked at 1,618 MiB
# with the warehouse's 1 GB and 1,176 MiB with this (DuckDB spills its temporary tables).
RULES_DUCKDB_MEMORY = "512MB"
RAW_KEYS = [
    *map(otus_key, ["users", "passback_group", "assessments", "class_assignments", "scores"]),
    *map(sis_key, ["orgs", "academic_sessions", "courses", "classes", "users", "enrollments",
                   "categories"]),
]
# The raw tables are partitioned by district only: every grading period of a district
# reads the same raw partition.
RAW_DEPS = [by_district(key) for key in RAW_KEYS]


class RulesConfig(dg.Config):
    """Run configuration of the rules stage."""

    as_of: str | None = None  # YYYY-MM-DD; default: today in the district's time zone


def _spec(key: dg.AssetKey, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(key, deps=RAW_DEPS, description=description, group_name=GROUP,
                        kinds=KINDS, skippable=True)


SPECS = [
    _spec(LINE_ITEMS, "Accepted SIS line items of the grading period, one per Otus class "
                      "assignment that passed every rule; what the sink sends."),
    _spec(RESULTS, "Accepted SIS results of the grading period: one per score that passed "
                   "every rule, scoreStatus 'fully graded' (statuses are never passed back)."),
    _spec(REJECTIONS, "One row per rule a line item or score breaks, with the teacher-facing "
                      "message; district-level rows (no grading period) have a null period."),
]


@dg.multi_asset(
    specs=SPECS, check_specs=RULES_CHECK_SPECS,
    partitions_def=district_grading_period_partitions, pool=POOL, can_subset=False,
    name=RULES_OP,
)
def passback_rules(
    context: dg.AssetExecutionContext, config: RulesConfig, warehouse: Warehouse,
    districts: Districts,
):
    """Reads the district's raw Otus and SIS tables, builds candidate line items and
    results, runs every catalog rule as a vectorised pandera check, and replaces this
    district × grading period's rows of passback.line_items, passback.results and
    passback.rejections in one transaction. Writes nothing when a blocking check fails."""
    district, grading_period_key = partition_dimensions(context)
    district_config = districts.get(district)
    as_of = (date.fromisoformat(config.as_of) if config.as_of
             else datetime.now(district_config.zone).date())
    settings = RunSettings.from_config(district_config, as_of)
    with warehouse.get_connection() as conn:
        conn.execute("SET memory_limit = ?", [RULES_DUCKDB_MEMORY])  # this step's connection
        grading_period = grading_period_for_key(conn, settings.district, grading_period_key)
        run = compute_partition(conn, settings, grading_period)
        yield from run.checks.results()
        if not run.checks.ok:
            # Say why in the step's failure: returning without the other outputs made Dagster
            # report a missing `rule_rate_stable` output, which told the user nothing.
            failed = "; ".join(f"{name}: {problem}" for name, problem in
                               run.checks.problems.items() if problem is not None)
            raise dg.Failure(description=f"{district} / {grading_period}: blocking check "
                             f"failed, nothing written for this partition ({failed})",
                             allow_retries=False)
        duplicates = write_partition(conn, run, context.run.run_id)
        if duplicates:
            raise dg.Failure(f"{duplicates} duplicate sourcedIds: transaction rolled back")
        yield rate_jump_result(rate_changes(conn, settings.district, grading_period))
    yield from _materializations(run)


def markdown_table(frame: pd.DataFrame) -> str:
    """A small frame as a Markdown table (for asset metadata in the UI)."""
    if frame.empty:
        return "(none)"
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "|" + " --- |" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _materializations(run: PartitionRun) -> list[dg.MaterializeResult]:
    counts = run.rejection_counts
    total = int(counts["rows"].sum())
    rejected = int(counts.loc[counts["severity"] == "reject", "rows"].sum())
    by_rule = counts.groupby("rule")["rows"].sum().sort_values(ascending=False)
    common = {"as_of": str(run.settings.as_of), "profile": run.settings.profile,
              "grading_period_sourced_id": run.grading_period_sourced_id}
    line_items = run.accepted_line_items()
    return [
        dg.MaterializeResult(asset_key=LINE_ITEMS, metadata={
            **common, "dagster/row_count": len(line_items),
            "candidates": len(run.line_items.frame),
            "preview": dg.MetadataValue.md(
                markdown_table(line_items[["sourced_id", "title", "due_date"]].head(10))),
        }),
        dg.MaterializeResult(asset_key=RESULTS, metadata={
            **common, "dagster/row_count": run.results.accepted,
            "candidates": run.results.candidates, "orphan_scores": run.orphan_scores,
        }),
        dg.MaterializeResult(asset_key=REJECTIONS, metadata={
            **common, "dagster/row_count": total, "rejects": rejected,
            "warnings": total - rejected,
            "by_rule": dg.MetadataValue.md(
                markdown_table(by_rule.rename("rows").reset_index())),
        }),
    ]
