"""The sink asset: a district and grading period's accepted line items and results, written to
the SIS (delta against the sync ledger, within the district's budget), and what it cost."""


from collections.abc import Iterator
from contextlib import nullcontext
from datetime import date, datetime
from typing import Any

import dagster as dg

from pipeline.config import ConfigError
from pipeline.graph import (
    LINE_ITEMS,
    RESULTS,
    SINK_GROUP,
    SIS_GRADEBOOK,
    SIS_SYNC,
    SIS_SYNC_JOB,
    SIS_WRITER_TAG,
    TARGET_GROUP,
    by_district,
    district_grading_period_partitions,
    dry_run_tags,
    grading_period_for_key,
    grading_period_tags,
    partition_dimensions,
    passback_partition_tags,
    sis_key,
)
from pipeline.oneroster import OneRosterError, OneRosterResource
from pipeline.resources import Districts, Warehouse
from pipeline.sink import SyncReport, run_sync
from pipeline.sink.safeguards import MassChangeError

GROUP = SINK_GROUP
KEY = SIS_SYNC
# No pool: a sync waits on the SIS for minutes and holds DuckDB only for short ledger commits
# (which wait out a busy file), so the warehouse pool would stall every writer; and a global
# pool (limit 1) would serialise every district's sink. One SIS writer per district is
# enforced by the instance's `passback/sis_writer` run-tag limit and a per-district lock.
NO_FAILED_WRITES = dg.AssetCheckSpec("no_failed_writes", asset=KEY, blocking=False,
                                     description="Every planned write reached the SIS (failures "
                                                 "are retried on the next run).")
NO_SIS_DRIFT = dg.AssetCheckSpec("no_sis_drift", asset=KEY, blocking=False,
                                 description="The SIS, read back, holds what Passback last "
                                             "wrote; edits made in the SIS since are in "
                                             "passback.sync_drift (overwritten or kept per "
                                             "the district's sis_edits).")
# What the sink reads back: the SIS's gradebook as the extract last read it (reconciliation).
READ_BACK = [by_district(sis_key("line_items")), by_district(sis_key("results"))]
NO_SIS_REFUSALS = dg.AssetCheckSpec("no_sis_refusals", asset=KEY, blocking=False,
                                    description="The SIS accepted every write; refusals are in "
                                                "passback.rejections as sis_rejected.")


class SinkConfig(dg.Config):
    """Run configuration of the sink."""

    dry_run: bool | None = None  # True: plan only; None: the district's passback.dry_run
    as_of: str | None = None  # YYYY-MM-DD for the closed-period policy; default: today
    # True: a person confirms a sync the mass-change safeguard holds (pipeline/sink/safeguards)
    allow_mass_change: bool = False


def _checks(report: SyncReport) -> list[dg.AssetCheckResult]:
    failed, refused = report.counters.failed, report.counters.refused
    drifted = report.planned["overwrite"] + report.planned["kept"]
    return [
        dg.AssetCheckResult(check_name=NO_FAILED_WRITES.name, passed=failed == 0,
                            severity=dg.AssetCheckSeverity.ERROR,
                            metadata={"failed": failed, "dry_run": report.dry_run}),
        dg.AssetCheckResult(check_name=NO_SIS_REFUSALS.name, passed=refused == 0,
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"refused": refused, "dry_run": report.dry_run}),
        dg.AssetCheckResult(check_name=NO_SIS_DRIFT.name, passed=drifted == 0,
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"drifted": drifted,
                                      "overwritten": report.planned["overwrite"],
                                      "kept": report.planned["kept"],
                                      "restored": report.planned["restore"],
                                      "dry_run": report.dry_run}),
    ]


def _metadata(report: SyncReport, grading_period: str) -> dict[str, Any]:
    values = report.metadata()
    samples = values.pop("sample_payloads")
    return {"grading_period_sourced_id": grading_period, **values,
            "sample_payloads": dg.MetadataValue.json(samples)}


def _tag_run(context: dg.AssetExecutionContext, tags: dict[str, str]) -> None:
    """Tag this run (a dry run, a closed grading period) when its launcher could not know
    (e.g. run config set in the launchpad, a backfill), so the run list shows it either way."""
    if any(context.run.tags.get(name) != value for name, value in tags.items()):
        context.instance.add_run_tags(context.run.run_id, tags)


# output_required=False: a dry run yields an observation instead of the asset's output, so it
# records no materialization and the sink's freshness still measures the last real sync.
@dg.asset(
    key=KEY, deps=[LINE_ITEMS, RESULTS, *READ_BACK],
    partitions_def=district_grading_period_partitions, group_name=GROUP,
    kinds={"oneroster", "duckdb"}, check_specs=[NO_FAILED_WRITES, NO_SIS_REFUSALS, NO_SIS_DRIFT],
    output_required=False,
)
def sis_sync(context: dg.AssetExecutionContext, config: SinkConfig, warehouse: Warehouse,
             districts: Districts, oneroster: OneRosterResource,
             ) -> Iterator[dg.MaterializeResult | dg.AssetObservation]:
    """Reads passback.line_items and passback.results of this district and grading period,
    the sync ledger, and the SIS's gradebook as last read (sis.line_items, sis.results);
    PUTs the line items, then their results, whose payload the SIS does not already hold
    (restoring what the SIS lost, and overwriting or keeping edits made in the SIS per the
    district's sis_edits, recorded in passback.sync_drift), deleting removed ones only when
    the district propagates deletions, never in a closed grading period; records each
    outcome in passback.sync_ledger as it arrives, SIS refusals in passback.rejections
    (sis_rejected, and line_item_refused_by_sis for the results they block), and the plan
    in passback.sync_plan. A dry run (district or run setting) plans and records without
    sending anything, and is an observation of the asset, not a materialization (its run is
    tagged passback/dry_run=true)."""
    district_id, grading_period_key = partition_dimensions(context)
    district = districts.get(district_id)
    as_of = date.fromisoformat(config.as_of) if config.as_of else datetime.now(district.zone).date()
    with warehouse.get_connection() as conn:
        grading_period = grading_period_for_key(conn, district.district, grading_period_key)
    dry_run = district.passback.dry_run if config.dry_run is None else config.dry_run
    if dry_run:
        _tag_run(context, dry_run_tags(True))
    elif context.run.tags.get(SIS_WRITER_TAG) != district.district:
        context.log.warning("this run lacks the passback/sis_writer tag, so the instance does "
                            "not keep other runs off this SIS; the sink's own lock still does")
    try:
        # A dry run needs no writer: nothing is sent, not even a token request.
        with nullcontext(None) if dry_run else oneroster.writer(district) as client:
            report = run_sync(district, grading_period, client=client,
                              connect=warehouse.get_connection, dry_run=dry_run,
                              run_id=context.run.run_id, as_of=as_of, log=context.log.info,
                              allow_mass_change=config.allow_mass_change)
    except (OneRosterError, ConfigError, MassChangeError) as exc:
        if isinstance(exc, OneRosterError) and exc.transient:
            raise  # the SIS may be back in a minute: the step's retry policy may try again
        # Wrong credentials or another permanent answer do not heal in a minute, and a held
        # mass change waits for a person: fail now with the cause, no step retries.
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    _tag_run(context, grading_period_tags(report.closed))
    if dry_run:
        yield dg.AssetObservation(asset_key=KEY, partition=context.partition_key,
                                  metadata=_metadata(report, grading_period))
        # Check outputs are required; nothing was written, so each passes, marked dry_run.
        yield from _checks(report)
        return
    yield dg.MaterializeResult(metadata=_metadata(report, grading_period),
                               check_results=_checks(report))


# Where the grades go, drawn so the lineage ends at the SIS: the district's OneRoster
# gradebook, outside Dagster (never materialized here; the sink's metadata says what it got).
sis_gradebook = dg.AssetSpec(
    SIS_GRADEBOOK, deps=[KEY], group_name=TARGET_GROUP, kinds={"oneroster"},
    description="The district's SIS gradebook (OneRoster line items and results): where "
                "passback/sis_sync writes. Outside Dagster; read back nightly by "
                "sis/line_items and sis/results.")


# Launch sink runs through this job (or with `sis_writer_tags`) so the instance's run-tag
# limit keeps a second run off the same district's SIS.
sis_sync_job = dg.define_asset_job(
    SIS_SYNC_JOB, selection=[KEY],
    config=dg.PartitionedConfig(partitions_def=district_grading_period_partitions,
                                run_config_for_partition_key_fn=lambda _key: {},
                                tags_for_partition_key_fn=passback_partition_tags),
    description="Write one district and grading period to its SIS (one writer per district).")
