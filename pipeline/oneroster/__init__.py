"""OneRoster 1.1 / 1.2 REST access: the endpoint table, the client and its Dagster resource.

Public API (for the extract and sink layers):
    OneRosterResource(...).client(district_config) -> OneRosterClient (a context manager)
    client.extract(entity, since=None) -> Extract      rows (Arrow), deletions, quarantine
    client.records(entity, since=None) -> list[dict]    raw records
    client.get(entity, sourced_id) -> dict | None
    client.put(entity, sourced_id, record) -> WriteOutcome   status, ok, imsx, retries
    client.delete(entity, sourced_id) -> WriteOutcome
    client.stats                                        requests, pages, retries, renewals
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
from pipeline.oneroster.resource import OneRosterResource
from pipeline.oneroster.transport import RequestStats, RetryPolicy

__all__ = [
    "ENDPOINTS",
    "Endpoint",
    "Extract",
    "Imsx",
    "OneRosterAuthError",
    "OneRosterClient",
    "OneRosterError",
    "OneRosterResource",
    "Quarantined",
    "RequestStats",
    "RetryPolicy",
    "WriteOutcome",
    "endpoint",
]
