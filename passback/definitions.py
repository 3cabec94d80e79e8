"""The Dagster code location: every asset, check, resource, schedule and sensor, assembled
in one place, where global policy (pools, retries, owners, tags) is applied once."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

import assets
import checks
from assets.extract import extract_schedules, sis_full_refresh_job
from assets.sink import sis_gradebook, sis_sync_job
from pipeline.config import load_districts
from pipeline.graph import SIS_SYNC
from pipeline.oneroster import OneRosterResource
from pipeline.orchestration import (
    extract_job,
    grading_period_sensor,
    nightly_schedules,
    passback_job,
    terminal_logger,
)
from pipeline.resources import Districts, Warehouse

OWNERS = ["team:passback"]
# The sink of every district syncs nightly; a day and two hours without one is a failure.
SINK_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26),
                                                warn_window=timedelta(hours=25))
# Each partition (a district, or a district and grading period) is its own unit of work:
# one run per partition keeps a failure to its partition, and the SIS writer tag then
# serialises the sink runs of one district.
BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)


def _policy(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Owners and tags everywhere; freshness on the sink."""
    spec = spec.replace_attributes(owners=OWNERS, tags={**spec.tags, "domain": "gradebook"})
    if spec.key == SIS_SYNC:
        spec = dg.apply_freshness_policy(spec, SINK_FRESHNESS)
    return spec


def _prepared(asset: dg.AssetsDefinition | dg.AssetSpec) -> dg.AssetsDefinition | dg.AssetSpec:
    """Global policy on an asset; an external one (the SIS gradebook) only gets its specs'."""
    if isinstance(asset, dg.AssetSpec):
        return _policy(asset)
    return asset.with_attributes(backfill_policy=BACKFILL).map_asset_specs(_policy)


defs = dg.Definitions(
    # The SIS gradebook is drawn, not run: a spec, which the package loader leaves out.
    assets=[*map(_prepared, dg.load_assets_from_package_module(assets)),
            _prepared(sis_gradebook)],
    asset_checks=[
        *dg.load_asset_checks_from_package_module(assets),
        *dg.load_asset_checks_from_package_module(checks),
    ],
    jobs=[extract_job, passback_job, sis_sync_job, sis_full_refresh_job],
    schedules=[*nightly_schedules(load_districts()), *extract_schedules],
    sensors=[grading_period_sensor],
    # One line per message on the terminal (`passback run`, `dagster dev`): stack traces stay
    # in the run's logs.
    loggers={"console": terminal_logger},
    resources={
        "warehouse": Warehouse.default(),
        "districts": Districts(),
        "oneroster": OneRosterResource(),
    },
)
