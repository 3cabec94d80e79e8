"""The Otus gradebook export: its contract (pandera) and a reader for any location DuckDB reads.

Public API:
    stage_export(location, zone, district) -> StagedExport   checked, typed, in a DuckDB file
    read_export(location, zone, district) -> OtusExport   the same as pandas (small exports)
    ENTITIES                                               the contract, one entry per file
"""

from pipeline.otus.contract import ENTITIES, Entity, Field
from pipeline.otus.reader import (
    ExportContractError,
    ExportFile,
    OtusExport,
    StagedExport,
    read_export,
    stage_export,
)

__all__ = ["ENTITIES", "Entity", "ExportContractError", "ExportFile", "Field", "OtusExport",
           "StagedExport", "read_export", "stage_export"]
