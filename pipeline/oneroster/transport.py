"""One district's HTTP to its SIS, for reads and writes alike: one retry loop, one budget.

Both the reader (`OneRosterClient`) and the writer (`OneRosterWriter`) send through a
`Transport`, so a read and a write of one district are retried by the same code under the same
`RetryPolicy` (urllib3 `Retry`: 408 / 429 / 5xx, refused connects, dropped connections and
read timeouts, backoff with jitter, `Retry-After`; a write's 409 / 412 a few times), take the
same per-district budget, and
authenticate the same way: OAuth 1.0a signed afresh on every attempt (servers refuse a replayed
nonce), or an OAuth 2 bearer token renewed once on a 401; the vendor header goes on gradebook
calls only.

Why not requests: its pool sends a request's headers and body in two writes and costs about a
millisecond of CPU per call, and a caller holding an in-flight slot around it (and around its
`Retry-After` sleeps) capped a sync near 60% of the budget. Here the wire is the standard
library's `http.client`: one keep-alive connection per thread and origin, the request sent in
one write, an idle connection the SIS closed replaced before use. The district's slot is held
only while a request is on the wire; encoding, signing, decompressing and the sleeps between
retries happen outside it. Redirects are not followed (a 3xx is the answer), so credentials
never leave the district's own origins.

Each request has a deadline (`RetryPolicy.deadline`) for its whole answer, body included: one
watchdog thread per process shuts the socket of a request past it, so a SIS trickling bytes
(each read well inside the per-read timeout) cannot hold a run. The attempt counts as a lost
answer and is retried like a timeout.
"""

from __future__ import annotations

import gzip
import http.client
import json
import ssl
import threading
import time
import zlib
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import parse_header_links
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ProtocolError
from urllib3.util.retry import Retry
from urllib3.util.wait import wait_for_read

from pipeline.config import DistrictConfig, OAuth1Auth, _check_url
from pipeline.oneroster.auth import (
    OneRosterAuthError,
    SignatureType,
    TokenManager,
    oauth1,
    vendor_headers,
)
from pipeline.oneroster.deadline import WATCHDOG, DeadlineHTTPConnection, DeadlineHTTPSConnection
from pipeline.oneroster.models import OneRosterError
from pipeline.oneroster.policy import (
    CONFLICT_STATUSES,
    RETRY_STATUSES,
    WRITE_METHODS,
    RequestStats,
    RetryPolicy,
    budget_for,
    redact_url,
)
from pipeline.oneroster.token_cache import TokenCacheDir

Service = Literal["rostering", "gradebook"]
Origin = tuple[str, str, int | None]  # scheme, host, port


class Answer:
    """One HTTP answer, read whole and decoded: what the reader, the writer and urllib3's
    `Retry` (status, headers, `get_redirect_location`) need of it."""

    __slots__ = ("method", "url", "status", "reason", "headers", "data", "retries")

    def __init__(self, method: str, url: str, response: http.client.HTTPResponse) -> None:
        self.method = method
        self.url = url  # as asked for, before signing: safe to name once redacted
        self.status = response.status
        self.reason = response.reason
        self.headers = response.headers  # case-insensitive `.get`, for Retry-After and paging
        self.data = response.read()
        self.retries = 0

    @property
    def ok(self) -> bool:
        """True for a 2xx: a 3xx is not followed, so it is not a success either."""
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError when it is not)."""
        return json.loads(self.data)

    def links(self) -> dict[str, dict[str, str]]:
        """The `Link` header(s) by rel, as requests' `Response.links` gives them."""
        header = ", ".join(self.headers.get_all("Link") or [])
        return {link.get("rel") or link.get("url", ""): link
                for link in parse_header_links(header)} if header else {}

    @staticmethod
    def get_redirect_location() -> bool:
        return False  # for urllib3's Retry: redirects are not followed, a 3xx is the outcome

    def decode(self) -> None:
        """Undo a gzip Content-Encoding (reads ask for it); a corrupt stream is a lost answer."""
        if (self.headers.get("Content-Encoding") or "").strip().lower() == "gzip":
            try:
                self.data = gzip.decompress(self.data)
            except (OSError, EOFError, zlib.error) as error:
                raise ProtocolError(f"bad gzip body: {type(error).__name__}") from error


class Transport:
    """Sends one district's calls; thread-safe, one keep-alive connection per thread and
    origin. `stats` counts every attempt, retry and token request; `policy` is the one retry
    policy of its reads and writes."""

    def __init__(self, config: DistrictConfig, policy: RetryPolicy | None = None, *,
                 signature_type: SignatureType = "header",
                 user_agent: str = "passback/0.1",
                 token_cache: TokenCacheDir | None = None) -> None:
        sis = config.sis
        bases = (sis.rostering_base, sis.gradebook_base)
        # Validated configs already refuse it; one built around validation (model_copy,
        # model_construct) must still never send credentials in clear to a remote host.
        for url in (*bases, getattr(sis.auth, "token_url", "")):
            if url:
                _check_url(url)
        self.stats = RequestStats()
        self.policy = policy or RetryPolicy()
        self._budget = budget_for(config.district, sis.budget.max_requests_per_second,
                                  sis.budget.max_concurrency)
        # Where our credentials may go, by URL prefix ("https://host:port"): matching a prefix
        # is cheaper per call than parsing the URL.
        self._origins = {_prefix(url): _origin(url) for url in bases}
        # Verified against the system's certificate store, as urllib3 does by default.
        self.tls = ssl.create_default_context() \
            if any(scheme == "https" for scheme, _, _ in self._origins.values()) else None
        self._connect_timeout = min(10.0, sis.timeout_seconds)
        self._read_timeout = sis.timeout_seconds
        self._local = threading.local()  # each thread's connections, by origin
        self._connections: list[http.client.HTTPConnection] = []
        self._connections_lock = threading.Lock()
        self._headers = {"Accept": "application/json", "User-Agent": user_agent}
        self._vendor = vendor_headers(sis)
        self._signer = oauth1(sis.auth, signature_type) \
            if isinstance(sis.auth, OAuth1Auth) else None
        # Token requests are POSTs that are safe to repeat: they retry under the same policy.
        self._token_session = _token_session(self.policy.retry(frozenset({"POST"})),
                                             self.policy.deadline)
        self._tokens = None if self._signer is not None else TokenManager(
            sis.auth, self._token_session, self.stats, sis.timeout_seconds,  # type: ignore[arg-type]
            version=sis.oneroster_version, cache_dir=token_cache)

    def close(self) -> None:
        """Close every thread's connections and the token session."""
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._token_session.close()

    def send(self, method: str, url: str, *, service: Service,
             params: Mapping[str, Any] | None = None, body: bytes | None = None) -> Answer:
        """One call and its retries; the answer carries the number of retries made.

        `url` must be well formed (quoted); `params` are url-encoded onto it. Raises
        `OneRosterError` when no answer came after every retry, `OneRosterAuthError` on a 401
        (after one token renewal for OAuth 2). A 408 / 429 / 5xx still there after the
        retries, or a write's 409 / 412 after `policy.conflict_retries`, is returned: the
        caller names the status.
        """
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        prefix = self._prefix_of(method, url)
        headers = self._call_headers(method, service, body)
        write = method in WRITE_METHODS
        retry = self.policy.retry(
            statuses=RETRY_STATUSES | CONFLICT_STATUSES if write else RETRY_STATUSES)
        renewed, conflicts = False, 0
        while True:
            sent_url, signed, token = self._authorise(method, url, headers)
            target = sent_url[len(prefix):] or "/"  # the request line: path and query
            try:
                answer = self._exchange(self._origins[prefix], method, url, target, body, signed)
                answer.decode()
            except (ConnectTimeoutError, ProtocolError) as error:
                self.stats.count(requests=1)
                retry = self._after_error(retry, method, url, error)
                continue
            self.stats.count(requests=1)
            if answer.status == 401 and token is not None and not renewed:
                assert self._tokens is not None
                self._tokens.renew(token)  # one renewal; a second 401 is a credentials problem
                renewed = True
                continue
            if answer.status == 401:
                raise OneRosterAuthError(
                    f"{method} {redact_url(url)}: the SIS refused our credentials (HTTP 401"
                    f"{', after a fresh token' if renewed else ''}); check the district's auth "
                    "settings and environment variables", 401)
            if retry.is_retry(method, answer.status, "Retry-After" in answer.headers):
                if answer.status in CONFLICT_STATUSES:
                    if conflicts >= self.policy.conflict_retries:
                        break  # the SIS keeps its answer: the caller reports it
                    conflicts += 1
                try:
                    retry = retry.increment(method, url, response=answer)  # type: ignore[arg-type]
                except MaxRetryError:
                    break
                self.stats.count(retries=1)
                retry.sleep(answer)  # type: ignore[arg-type]  # honours Retry-After; no slot held
                continue
            break
        answer.retries = len(retry.history)
        return answer

    def _prefix_of(self, method: str, url: str) -> str:
        """The district origin `url` is on; refuses any other host (no credentials go there)."""
        for prefix in self._origins:
            if url.startswith(prefix) and url[len(prefix):len(prefix) + 1] in ("", "/", "?"):
                return prefix
        raise OneRosterError(f"{method} {redact_url(url)}: not one of the district's SIS "
                             "addresses; nothing was sent")

    def _call_headers(self, method: str, service: Service, body: bytes | None) -> dict[str, str]:
        headers = dict(self._headers)
        if method == "GET":
            headers["Accept-Encoding"] = "gzip"  # SIS pages are large; writes' answers are not
        if body is not None:
            headers["Content-Type"] = "application/json"
        if service == "gradebook":
            headers.update(self._vendor)
        return headers

    def _authorise(self, method: str, url: str, headers: dict[str, str],
                   ) -> tuple[str, dict[str, str], str | None]:
        """(the URL to send, the headers, the bearer token or None) for one attempt: an OAuth 1
        signature is fresh each time, in the header or in the query."""
        if self._signer is not None:
            signed_url, signed, _ = self._signer.sign(url, method, None, dict(headers))
            return signed_url, signed, None
        assert self._tokens is not None
        token = self._tokens.token()
        return url, {**headers, "Authorization": f"Bearer {token}"}, token

    def _after_error(self, retry: Retry, method: str, url: str, error: Exception) -> Retry:
        """The next `Retry` after a lost answer, having slept its backoff; raises when spent."""
        try:
            retry = retry.increment(method, url, error=error)
        except (MaxRetryError, ConnectTimeoutError, ProtocolError):
            cause = error.__cause__ or error
            reason = str(error) if isinstance(error, DeadlineExceeded) else type(cause).__name__
            raise OneRosterError(f"{method} {redact_url(url)} failed after retries: "
                                 f"{reason}", transient=True) from None
        self.stats.count(retries=1)
        retry.sleep()
        return retry

    def _exchange(self, origin: Origin, method: str, url: str, target: str,
                  body: bytes | None, headers: dict[str, str]) -> Answer:
        """One request and its whole answer, holding an in-flight slot only meanwhile; the
        watchdog shuts the socket when the answer is not in whole by the policy's deadline."""
        connection = self._connection(origin)
        ticket = None
        try:
            with self._budget.slot():
                ticket = WATCHDOG.watch(connection.sock, time.monotonic() + self.policy.deadline)
                connection.request(method, target, body=body, headers=headers)
                answer = Answer(method, url, connection.getresponse())
        except (OSError, http.client.HTTPException) as error:  # dropped, reset, timed out
            connection.close()
            if ticket is not None and WATCHDOG.done(ticket):
                raise self._late() from None
            raise ProtocolError(f"no answer: {type(error).__name__}") from error
        if WATCHDOG.done(ticket):
            # Shut mid-answer, a head can parse as complete (the shut ends it): never trust it.
            connection.close()
            raise self._late()
        return answer

    def _late(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"no complete answer within the {self.policy.deadline:g} s deadline")

    def _connection(self, origin: Origin) -> http.client.HTTPConnection:
        """This thread's connection to `origin`, connected; raises urllib3's connect error."""
        mine: dict[Origin, http.client.HTTPConnection] | None = getattr(
            self._local, "connections", None)
        if mine is None:
            mine = self._local.connections = {}
        connection = mine.get(origin)
        if connection is None:
            connection = mine[origin] = self._new_connection(origin)
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

    def _new_connection(self, origin: Origin) -> http.client.HTTPConnection:
        scheme, host, port = origin
        connection = (
            http.client.HTTPSConnection(host, port, context=self.tls,
                                        timeout=self._connect_timeout) if scheme == "https"
            else http.client.HTTPConnection(host, port, timeout=self._connect_timeout))
        with self._connections_lock:
            self._connections.append(connection)
        return connection


class DeadlineExceeded(ProtocolError):
    """A request whose answer did not arrive in whole by its deadline (retried as lost)."""




def _origin(url: str) -> Origin:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port


def _prefix(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _token_session(retry: Retry, deadline: float) -> requests.Session:
    """The session OAuth 2 token requests go through (few, and to the token URL's host).

    Each request gets a connection of its own (`Connection: close`), which the watchdog
    shuts `deadline` seconds after it opened: a token endpoint trickling bytes holds a step
    no longer than any other SIS request."""
    http = type("TokenHTTPConnection", (DeadlineHTTPConnection,), {"deadline": deadline})
    https = type("TokenHTTPSConnection", (DeadlineHTTPSConnection,), {"deadline": deadline})
    session = requests.Session()
    session.headers["Connection"] = "close"
    adapter = HTTPAdapter(max_retries=retry)
    pools = adapter.poolmanager.pool_classes_by_scheme
    adapter.poolmanager.pool_classes_by_scheme = {
        "http": type("TokenHTTPPool", (pools["http"],), {"ConnectionCls": http}),
        "https": type("TokenHTTPSPool", (pools["https"],), {"ConnectionCls": https})}
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
