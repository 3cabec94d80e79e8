"""The Dagster code location: every asset, check, resource, schedule and sensor, assembled
in one place, where global policy (pools, retries, owners, tags) is applied once."""

from __future__ import annotations

import dagster as dg

import assets
import checks
from assets.extract import extract_schedules, sis_full_refresh_job
from assets.sink import sis_sync_job
from pipeline.config import load_districts
from pipeline.oneroster import OneRosterResource
from pipeline.orchestration import (
    extract_job,
    grading_period_sensor,
    nightly_schedules,
    passback_job,
)
from pipeline.resources import Districts, Warehouse

defs = dg.Definitions(
    assets=dg.load_assets_from_package_module(assets),
    asset_checks=[
        *dg.load_asset_checks_from_package_module(assets),
        *dg.load_asset_checks_from_package_module(checks),
    ],
    jobs=[extract_job, passback_job, sis_sync_job, sis_full_refresh_job],
    schedules=[*nightly_schedules(load_districts()), *extract_schedules],
    sensors=[grading_period_sensor],
    resources={
        "warehouse": Warehouse.default(),
        "districts": Districts(),
        "oneroster": OneRosterResource(),
    },
)
