"""Extract layer: the Otus export and the SIS roster and gradebook, raw, into DuckDB.

The assets are built by factories that take the partitions definition, so tests can build
them over a district of their own; the module-level definitions below use the districts of
`mappings/` (read when the code location loads), and are what definitions.py picks up.
"""

from __future__ import annotations

import dagster as dg

from assets.extract.otus import build_otus_assets
from assets.extract.schedules import build_full_refresh_schedule
from assets.extract.sis import ExtractConfig, build_sis_assets
from pipeline.graph import district_partitions


def build_extract_assets(partitions_def: dg.PartitionsDefinition = district_partitions,
                         ) -> list[dg.AssetsDefinition]:
    """The Otus multi-asset and one asset per SIS collection, partitioned by district."""
    return [build_otus_assets(partitions_def), *build_sis_assets(partitions_def)]


extract_assets = build_extract_assets()
sis_full_refresh_job, sis_weekly_full_refresh = build_full_refresh_schedule(district_partitions)
extract_schedules = [sis_weekly_full_refresh]

__all__ = ["ExtractConfig", "build_extract_assets", "build_full_refresh_schedule",
           "extract_assets", "extract_schedules", "sis_full_refresh_job"]
