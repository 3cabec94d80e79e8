"""The Dagster resource that hands out OneRoster readers and writers, one per district.

One place builds both from one retry policy, so a test or a deployment swaps the SIS client
(or its patience) for reads and writes together.
"""

from __future__ import annotations

from typing import Literal

import dagster as dg
from pydantic import Field

from pipeline.config import DistrictConfig
from pipeline.oneroster.client import DEFAULT_PAGE_SIZE, OneRosterClient
from pipeline.oneroster.policy import RetryPolicy
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
    oauth1_signature_type: Literal["header", "query"] = Field(
        default="header",
        description="where the OAuth 1.0a signature travels; both sign the query parameters")

    def retry_policy(self) -> RetryPolicy:
        """The one retry policy of reads and writes."""
        return RetryPolicy(total=self.max_retries, backoff_factor=self.backoff_factor,
                           backoff_max=self.backoff_max_seconds,
                           backoff_jitter=self.backoff_jitter)

    def reader(self, config: DistrictConfig) -> OneRosterClient:
        """A reader of one district's collections; close it (or use `with`) when done."""
        return OneRosterClient(config, page_size=self.page_size, retry=self.retry_policy(),
                               signature_type=self.oauth1_signature_type)

    def writer(self, config: DistrictConfig) -> OneRosterWriter:
        """A writer (PUT / DELETE) for one district; close it (or use `with`) when done."""
        return OneRosterWriter(config, self.retry_policy(),
                               signature_type=self.oauth1_signature_type)
