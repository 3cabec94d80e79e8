"""The Otus gradebook export: its contract (pandera) and a reader for any location DuckDB reads.

Public API:
    read_export(location, zone, district) -> OtusExport   typed tables, or ExportContractError
    ENTITIES                                               the contract, one entry per file
"""

from pipeline.otus.contract import ENTITIES, Entity, Field
from pipeline.otus.reader import ExportContractError, ExportFile, OtusExport, read_export

__all__ = ["ENTITIES", "Entity", "ExportContractError", "ExportFile", "Field", "OtusExport",
           "read_export"]
