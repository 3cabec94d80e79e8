"""The sink's write path to the SIS: the OneRoster client's budget, auth and retry policy, on a
thinner transport.

Why not `OneRosterClient.put` itself: it holds the district's in-flight slot while requests
prepares the call and parses the answer, and while it sleeps between retries (a `Retry-After`
of seconds spent holding one of Infinite Campus's five slots), and requests costs about a
millisecond of CPU per call. At five slots and 20 ms per call that caps a sync near 60% of
what the budget allows. This writer encodes and signs before taking a slot, holds the slot
only while the request is on the wire, and sleeps outside it.

The wire is the standard library's `http.client`, one keep-alive connection per worker thread,
which sends a request's headers and body in one write. urllib3's pool sends them in two and
adds about 0.2 ms of CPU per call; at five in flight against a 20 ms SIS that was 224 requests/s
against 230-233 here (`python -m tooling.bench.sink`). Everything else is the client's: the
process-wide `budget_for` (so the extract and the sink share one budget per district),
`RetryPolicy` (urllib3 `Retry`: 429 / 5xx / timeouts / dropped connections, backoff with
jitter, `Retry-After`), `TokenManager` (one renewal on 401), the OAuth 1.0a signer (signed
afresh on every attempt: servers refuse a replayed nonce), the vendor header and `WriteOutcome`.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ProtocolError
from urllib3.util.wait import wait_for_read

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


class _Answer:
    """One HTTP answer, read whole: what urllib3's `Retry` and `WriteOutcome` need of it."""

    __slots__ = ("status", "headers", "data")

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers  # case-insensitive .get, for Retry-After
        self.data = response.read()

    @staticmethod
    def get_redirect_location() -> bool:
        return False  # redirects are not followed: a 3xx is the outcome


class SinkWriter:
    """PUT and DELETE of gradebook records for one district; use as a context manager."""

    def __init__(self, config: DistrictConfig, policy: RetryPolicy | None = None) -> None:
        sis = config.sis
        self.stats = RequestStats()
        self._policy = policy or RetryPolicy()
        self._budget = budget_for(config.district, sis.budget.max_requests_per_second,
                                  sis.budget.max_concurrency)
        self._base = sis.gradebook_base
        parts = urlsplit(sis.gradebook_base)
        self._origin_length = len(f"{parts.scheme}://{parts.netloc}")  # requests carry paths
        self._host, self._port, self._https = parts.hostname or "", parts.port, \
            parts.scheme == "https"
        # Verified against the system's certificate store, as urllib3 does by default.
        self.tls = ssl.create_default_context() if self._https else None
        self._connect_timeout = min(10.0, sis.timeout_seconds)
        self._read_timeout = sis.timeout_seconds
        self._local = threading.local()  # each worker thread's keep-alive connection
        self._connections: list[http.client.HTTPConnection] = []
        self._connections_lock = threading.Lock()
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
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
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

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's connection, connected; raises urllib3's connect error if it cannot."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = (
                http.client.HTTPSConnection(self._host, self._port, context=self.tls,
                                            timeout=self._connect_timeout) if self._https
                else http.client.HTTPConnection(self._host, self._port,
                                                timeout=self._connect_timeout))
            with self._connections_lock:
                self._connections.append(connection)
        elif connection.sock is not None and wait_for_read(connection.sock, timeout=0.0):
            connection.close()  # readable while idle: the SIS closed this keep-alive connection
        if connection.sock is None:
            try:
                connection.connect()
            except OSError as error:
                connection.close()
                raise ConnectTimeoutError(f"cannot connect: {type(error).__name__}") from error
            connection.sock.settimeout(self._read_timeout)
        return connection

    def _exchange(self, method: str, path: str, body: bytes | None,
                  headers: dict[str, str]) -> _Answer:
        """One request and its whole answer, holding an in-flight slot only meanwhile."""
        connection = self._connection()
        try:
            with self._budget.slot():
                connection.request(method, path, body=body, headers=headers)
                answer = _Answer(connection.getresponse())
        except (OSError, http.client.HTTPException) as error:  # dropped, reset, timed out
            connection.close()
            raise ProtocolError(f"no answer: {type(error).__name__}") from error
        return answer

    def _send(self, method: str, url: str, body: bytes | None) -> WriteOutcome:
        retry = self._policy.retry(WRITE_METHODS)
        renewed = False
        while True:
            headers, token = self._auth(method, url)
            try:
                answer = self._exchange(method, url[self._origin_length:], body, headers)
            except (ConnectTimeoutError, ProtocolError) as error:
                self.stats.count(requests=1)
                try:
                    retry = retry.increment(method, url, error=error)
                except (MaxRetryError, ConnectTimeoutError, ProtocolError):
                    cause = error.__cause__ or error
                    raise OneRosterError(f"{method} {url.split('?')[0]} failed after retries: "
                                         f"{type(cause).__name__}") from None
                self.stats.count(retries=1)
                retry.sleep()
                continue
            self.stats.count(requests=1)
            if answer.status == 401 and token is not None and not renewed:
                assert self._tokens is not None
                self._tokens.renew(token)  # one renewal; a second 401 is a credentials problem
                renewed = True
                continue
            if answer.status == 401:
                raise OneRosterAuthError(f"{method} {url.split('?')[0]}: the SIS refused our "
                                         "credentials (HTTP 401)")
            if retry.is_retry(method, answer.status, "Retry-After" in answer.headers):
                try:
                    retry = retry.increment(method, url, response=answer)  # type: ignore[arg-type]
                except MaxRetryError:
                    return self._outcome(answer, len(retry.history))
                self.stats.count(retries=1)
                retry.sleep(answer)  # type: ignore[arg-type]  # honours Retry-After; no slot held
                continue
            return self._outcome(answer, len(retry.history))

    @staticmethod
    def _outcome(answer: _Answer, retries: int) -> WriteOutcome:
        data = answer.data
        body: dict[str, Any] | None = None
        if data:
            try:
                parsed = json.loads(data)
                body = parsed if isinstance(parsed, dict) else None
            except ValueError:
                body = None
        ok = 200 <= answer.status < 300
        imsx = None if ok or not data else parse_imsx(_Body(data))  # type: ignore[arg-type]
        return WriteOutcome(answer.status, imsx, retries, body)
