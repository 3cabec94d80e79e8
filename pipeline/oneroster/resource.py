"""The Dagster resource that hands out OneRoster readers and writers, one per district.

One place builds both from one retry policy, so a test or a deployment swaps the SIS client
(or its patience) for reads and writes together. Inside a Dagster run it also hands them the
run's token cache (token_cache.py), so the run's steps share one OAuth 2 token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field, PrivateAttr

from pipeline.config import DistrictConfig
from pipeline.oneroster.client import DEFAULT_PAGE_SIZE, OneRosterClient
from pipeline.oneroster.policy import RetryPolicy
from pipeline.oneroster.token_cache import TokenCacheDir
from pipeline.oneroster.writer import OneRosterWriter


class OneRosterResource(dg.ConfigurableResource):
    """OneRoster access for every district: paging, retry policy and OAuth 1 signature style.

    Per-district settings (URLs, auth, budget, timeout) come from the district's YAML; these
    are the pipeline-wide knobs. Tests shorten the backoff so fault runs stay quick.
    """

    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=10_000,
                           description="`limit` asked for; servers may cap it lower")
    max_retries: int = Field(default=6, ge=0, le=20)
    backoff_factor: float = Field(default=0.5, ge=0)
    backoff_max_seconds: float = Field(default=30.0, ge=0)
    backoff_jitter: float = Field(default=0.25, ge=0)
    request_deadline_seconds: float = Field(
        default=120.0, gt=0,
        description="the longest one request may take, body included (a SIS trickling bytes "
        "is cut off here and the request retried)")
    conflict_retries: int = Field(default=3, ge=0, le=10,
                                  description="retries of a write answered 409 or 412")
    oauth1_signature_type: Literal["header", "query"] = Field(
        default="header",
        description="where the OAuth 1.0a signature travels; both sign the query parameters")
    _token_cache: TokenCacheDir | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """In a run with a persistent instance: share OAuth 2 tokens between the run's steps."""
        self._token_cache = token_cache_for(context)

    def retry_policy(self) -> RetryPolicy:
        """The one retry policy of reads and writes."""
        return RetryPolicy(total=self.max_retries, backoff_factor=self.backoff_factor,
                           backoff_max=self.backoff_max_seconds,
                           backoff_jitter=self.backoff_jitter,
                           deadline=self.request_deadline_seconds,
                           conflict_retries=self.conflict_retries)

    def reader(self, config: DistrictConfig) -> OneRosterClient:
        """A reader of one district's collections; close it (or use `with`) when done."""
        return OneRosterClient(config, page_size=self.page_size, retry=self.retry_policy(),
                               signature_type=self.oauth1_signature_type,
                               token_cache=self._token_cache)

    def writer(self, config: DistrictConfig) -> OneRosterWriter:
        """A writer (PUT / DELETE) for one district; close it (or use `with`) when done."""
        return OneRosterWriter(config, self.retry_policy(),
                               signature_type=self.oauth1_signature_type,
                               token_cache=self._token_cache)


def token_cache_for(context: dg.InitResourceContext) -> TokenCacheDir | None:
    """The run's token cache under the instance's storage folder; None outside a run or on an
    instance without a local storage folder (each transport then fetches its own token)."""
    run, instance = context.run, context.instance
    run_id = run.run_id if run is not None else None
    if not run_id or instance is None:
        return None
    try:
        storage = Path(instance.storage_directory())
    except Exception:  # noqa: BLE001 - an instance without local storage: no sharing
        return None
    return TokenCacheDir(storage / "passback-tokens", run_id)
