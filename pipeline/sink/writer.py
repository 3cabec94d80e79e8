"""The sink's write path to the SIS: the OneRoster client's budget, auth and retry policy, on a
thinner transport.

Why not `OneRosterClient.put` itself: it holds the district's in-flight slot while requests
prepares the call and parses the answer, and while it sleeps between retries (a `Retry-After`
of seconds spent holding one of Infinite Campus's five slots), and requests costs about a
millisecond of CPU per call. At five slots and 20 ms per call that caps a sync near 60% of
what the budget allows. This writer encodes and signs before taking a slot, holds the slot
only while the request is on the wire, sleeps outside it, and sends through urllib3 directly.
Everything else is the client's: the process-wide `budget_for` (so the extract and the sink
share one budget per district), `RetryPolicy` (urllib3 `Retry`: 429 / 5xx / timeouts, backoff
with jitter, `Retry-After`), `TokenManager` (one renewal on 401), the OAuth 1.0a signer (signed
afresh on every attempt: servers refuse a replayed nonce), the vendor header and `WriteOutcome`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError, MaxRetryError

from pipeline.config import DistrictConfig, OAuth1Auth
from pipeline.oneroster import OneRosterAuthError, OneRosterError, WriteOutcome, endpoint
from pipeline.oneroster.auth import TokenManager, oauth1, vendor_headers
from pipeline.oneroster.models import parse_imsx
from pipeline.oneroster.transport import RequestStats, RetryPolicy, budget_for

WRITE_METHODS = frozenset({"PUT", "DELETE"})
class _Body:
    """Just enough of a requests.Response for the client's `parse_imsx`."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def json(self) -> Any:
        return json.loads(self._data)


class SinkWriter:
    """PUT and DELETE of gradebook records for one district; use as a context manager."""

    def __init__(self, config: DistrictConfig, policy: RetryPolicy | None = None) -> None:
        sis = config.sis
        self.stats = RequestStats()
        self._policy = policy or RetryPolicy()
        self._budget = budget_for(config.district, sis.budget.max_requests_per_second,
                                  sis.budget.max_concurrency)
        # One host: a single connection pool, so no URL is parsed twice per request.
        self._pool = urllib3.connection_from_url(
            sis.gradebook_base, maxsize=sis.budget.max_concurrency, retries=False,
            timeout=urllib3.Timeout(connect=min(10.0, sis.timeout_seconds),
                                    read=sis.timeout_seconds))
        self._base = sis.gradebook_base
        parts = urlsplit(sis.gradebook_base)
        self._origin_length = len(f"{parts.scheme}://{parts.netloc}")  # the pool wants paths
        self._version = sis.oneroster_version
        self._headers = {"Content-Type": "application/json", "Accept": "application/json",
                         "User-Agent": "passback-sink/0.1", **vendor_headers(sis)}
        self._signer = oauth1(sis.auth, "header").client \
            if isinstance(sis.auth, OAuth1Auth) else None
        # Token requests are POSTs that are safe to repeat: they retry under the same policy.
        self._token_session = requests.Session()
        self._token_session.mount("http://", HTTPAdapter(
            max_retries=self._policy.retry(frozenset({"POST"}))))
        self._token_session.mount("https://", HTTPAdapter(
            max_retries=self._policy.retry(frozenset({"POST"}))))
        self._tokens = None if self._signer is not None else TokenManager(
            sis.auth, self._token_session, self.stats, sis.timeout_seconds)  # type: ignore[arg-type]

    def __enter__(self) -> SinkWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._pool.close()
        self._token_session.close()

    def put(self, entity: str, sourced_id: str, payload: dict[str, Any]) -> WriteOutcome:
        """Create or replace one record (`payload` is the record; it is wrapped here)."""
        ep = endpoint(entity)
        body = json.dumps({ep.record_key: {**payload, "sourcedId": sourced_id}},
                          separators=(",", ":")).encode("utf-8")
        return self._send("PUT", self._url(entity, sourced_id), body)

    def delete(self, entity: str, sourced_id: str) -> WriteOutcome:
        """Delete one record."""
        return self._send("DELETE", self._url(entity, sourced_id), None)

    def _url(self, entity: str, sourced_id: str) -> str:
        return f"{self._base}{endpoint(entity).path(self._version)}/{quote(sourced_id, safe='')}"

    def _auth(self, method: str, url: str) -> tuple[dict[str, str], str | None]:
        """Headers for one attempt, and the bearer token they carry (None for OAuth 1)."""
        if self._signer is not None:
            _, signed, _ = self._signer.sign(url, method, None, dict(self._headers))
            return signed, None
        assert self._tokens is not None
        token = self._tokens.token()
        return {**self._headers, "Authorization": f"Bearer {token}"}, token

    def _send(self, method: str, url: str, body: bytes | None) -> WriteOutcome:
        retry = self._policy.retry(WRITE_METHODS)
        renewed = False
        while True:
            headers, token = self._auth(method, url)
            try:
                with self._budget.slot():  # held only while the request is on the wire
                    response = self._pool.urlopen(method, url[self._origin_length:], body=body,
                                                  headers=headers, retries=False, redirect=False)
            except HTTPError as error:  # no answer: connection refused, dropped, timed out
                self.stats.count(requests=1)
                try:
                    retry = retry.increment(method, url, error=error)
                except (MaxRetryError, HTTPError):
                    raise OneRosterError(f"{method} {url.split('?')[0]} failed after retries: "
                                         f"{type(error).__name__}") from None
                self.stats.count(retries=1)
                retry.sleep()
                continue
            self.stats.count(requests=1)
            if response.status == 401 and token is not None and not renewed:
                assert self._tokens is not None
                self._tokens.renew(token)  # one renewal; a second 401 is a credentials problem
                renewed = True
                continue
            if response.status == 401:
                raise OneRosterAuthError(f"{method} {url.split('?')[0]}: the SIS refused our "
                                         "credentials (HTTP 401)")
            if retry.is_retry(method, response.status, "Retry-After" in response.headers):
                try:
                    retry = retry.increment(method, url, response=response)
                except MaxRetryError:
                    return self._outcome(response, len(retry.history))
                self.stats.count(retries=1)
                retry.sleep(response)  # honours Retry-After; outside the slot
                continue
            return self._outcome(response, len(retry.history))

    @staticmethod
    def _outcome(response: urllib3.BaseHTTPResponse, retries: int) -> WriteOutcome:
        data = response.data
        body: dict[str, Any] | None = None
        if data:
            try:
                parsed = json.loads(data)
                body = parsed if isinstance(parsed, dict) else None
            except ValueError:
                body = None
        ok = 200 <= response.status < 300
        imsx = None if ok or not data else parse_imsx(_Body(data))  # type: ignore[arg-type]
        return WriteOutcome(response.status, imsx, retries, body)
