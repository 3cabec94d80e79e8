"""The OneRoster writer: PUT and DELETE of one district's gradebook records (the sink's wire).

It is the reader's transport with a write API on top, so writes take the same budget, retry
loop and auth as reads (see transport.py); the body is encoded before any slot is taken.
Records come with references by sourcedId and type; the `href`s the spec requires are added
here, from the district's base URL of this writer (see references.py).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from pipeline.config import DistrictConfig
from pipeline.oneroster.auth import SignatureType
from pipeline.oneroster.endpoints import Endpoint, endpoint
from pipeline.oneroster.models import JSON, WriteOutcome, parse_imsx
from pipeline.oneroster.policy import RequestStats, RetryPolicy
from pipeline.oneroster.references import Hrefs
from pipeline.oneroster.token_cache import TokenCacheDir
from pipeline.oneroster.transport import Answer, Transport


class OneRosterWriter:
    """Creates, replaces and deletes records in one district's SIS; use as a context manager.

    Only PUT (OneRoster's create-or-replace at a sourcedId the client picks) and DELETE: both
    idempotent, so both are retried (a 409 / 412 a few times, then it is the SIS's answer).
    `stats` counts requests, retries and token renewals.
    """

    def __init__(self, config: DistrictConfig, policy: RetryPolicy | None = None, *,
                 signature_type: SignatureType = "header",
                 token_cache: TokenCacheDir | None = None) -> None:
        sis = config.sis
        self.transport = Transport(config, policy, signature_type=signature_type,
                                   user_agent="passback-sink/0.1", token_cache=token_cache)
        self.stats: RequestStats = self.transport.stats
        self._version = sis.oneroster_version
        self._bases = {"rostering": sis.rostering_base, "gradebook": sis.gradebook_base}
        self.hrefs = Hrefs.for_sis(sis)

    def __enter__(self) -> OneRosterWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self.transport.close()

    def put(self, entity: str, sourced_id: str, payload: JSON) -> WriteOutcome:
        """Create or replace one record (`payload` is the record; it is wrapped here, and
        every reference without an `href` gets one pointing under this district's base URL)."""
        ep = endpoint(entity)
        body = json.dumps({ep.record_key: {**self.hrefs.link(payload), "sourcedId": sourced_id}},
                          separators=(",", ":")).encode("utf-8")
        return _outcome(self.transport.send("PUT", self._url(ep, sourced_id),
                                            service=ep.service, body=body))

    def delete(self, entity: str, sourced_id: str) -> WriteOutcome:
        """Delete one record (the SIS marks it `tobedeleted` or removes it)."""
        ep = endpoint(entity)
        return _outcome(self.transport.send("DELETE", self._url(ep, sourced_id),
                                            service=ep.service))

    def _url(self, ep: Endpoint, sourced_id: str) -> str:
        return f"{self._bases[ep.service]}{ep.path(self._version)}/{quote(sourced_id, safe='')}"


def _outcome(answer: Answer) -> WriteOutcome:
    """The SIS's answer as a `WriteOutcome`: status, imsx on failure, retries, JSON body."""
    body: dict[str, Any] | None = None
    if answer.data:
        try:
            parsed = answer.json()
            body = parsed if isinstance(parsed, dict) else None
        except ValueError:
            body = None
    imsx = None if answer.ok or not answer.data else parse_imsx(answer)
    return WriteOutcome(answer.status, imsx, answer.retries, body)
