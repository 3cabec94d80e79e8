"""The Dagster code location: every asset, check, resource, schedule and sensor, assembled
in one place, where global policy (pools, retries, owners, tags) is applied once."""

from __future__ import annotations

import dagster as dg

import assets
import checks
from pipeline.resources import Districts, Warehouse

defs = dg.Definitions(
    assets=dg.load_assets_from_package_module(assets),
    asset_checks=[
        *dg.load_asset_checks_from_package_module(assets),
        *dg.load_asset_checks_from_package_module(checks),
    ],
    resources={
        "warehouse": Warehouse.default(),
        "districts": Districts(),
    },
)
