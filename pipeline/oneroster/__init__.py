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

__all__ = [
    "ENDPOINTS",
    "Endpoint",
    "Extract",
    "Imsx",
    "OneRosterAuthError",
    "OneRosterClient",
    "OneRosterError",
    "OneRosterResource",
    "OneRosterWriter",
    "Quarantined",
    "RequestStats",
    "RetryPolicy",
    "WriteOutcome",
    "endpoint",
]
