"""OneRoster 1.1 / 1.2 REST access: the endpoint table, the reader, the writer, their transport
and the Dagster resource that hands them out.

Public API (for the extract and sink layers):
    OneRosterResource(...).reader(district_config) -> OneRosterClient (a context manager)
    reader.extract(entity, since=None) -> Extract      rows (Arrow), deletions, quarantine
    reader.records(entity, since=None) -> list[dict]    raw records
    reader.get(entity, sourced_id) -> dict | None
    OneRosterResource(...).writer(district_config) -> OneRosterWriter (a context manager)
    writer.put(entity, sourced_id, record) -> WriteOutcome   status, ok, imsx, retries
    writer.delete(entity, sourced_id) -> WriteOutcome
    reader.stats, writer.stats                          requests, pages, retries, renewals
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.oneroster.auth import OneRosterAuthError
    from pipeline.oneroster.client import OneRosterClient
    from pipeline.oneroster.endpoints import ENDPOINTS, Endpoint, endpoint
    from pipeline.oneroster.models import (
        Extract,
        Imsx,
        OneRosterError,
        Quarantined,
        WriteOutcome,
    )
    from pipeline.oneroster.policy import RequestStats, RetryPolicy
    from pipeline.oneroster.resource import OneRosterResource
    from pipeline.oneroster.writer import OneRosterWriter

# Loaded on first use: the warehouse reads the endpoint table at import, and must not pull in
# Dagster, the HTTP stack and OAuth with it.
_HOMES = {
    "OneRosterAuthError": "auth", "OneRosterClient": "client", "ENDPOINTS": "endpoints",
    "Endpoint": "endpoints", "endpoint": "endpoints", "Extract": "models", "Imsx": "models",
    "OneRosterError": "models", "Quarantined": "models", "WriteOutcome": "models",
    "RequestStats": "policy", "RetryPolicy": "policy", "OneRosterResource": "resource",
    "OneRosterWriter": "writer",
}
__all__ = [
    "ENDPOINTS", "Endpoint", "Extract", "Imsx", "OneRosterAuthError", "OneRosterClient",
    "OneRosterError", "OneRosterResource", "OneRosterWriter", "Quarantined", "RequestStats",
    "RetryPolicy", "WriteOutcome", "endpoint",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"pipeline.oneroster.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'pipeline.oneroster' has no attribute {name!r}")
