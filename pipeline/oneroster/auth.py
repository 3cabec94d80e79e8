"""Authentication for OneRoster calls: OAuth 1.0a signing, OAuth 2 client credentials, and the
Infinite Campus vendor header.

OAuth 1.0a is oauthlib's signing client, applied by the transport to every attempt: it signs
the query string too, so `limit`, `offset` and `filter` are covered by the signature
whether the signature travels in the query or in the Authorization header. OAuth 2 tokens come
from a small manager built on oauthlib's `BackendApplicationClient`: one token per transport,
shared by its threads, renewed a minute before it expires and once when the SIS answers 401.
Within a Dagster run, the manager also shares its token with the run's other steps (separate
processes) through a `RunTokenCache` (token_cache.py), so a run asks for one token, not one
per asset. The token answer is checked before use: an `access_token` string and an
`expires_in` that is a positive number (absent: an hour). Secret values are read from the
environment here and nowhere else, and never appear in a message.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Literal

import requests
from oauthlib.oauth1 import SIGNATURE_TYPE_AUTH_HEADER, SIGNATURE_TYPE_QUERY, Client
from oauthlib.oauth2 import BackendApplicationClient

from pipeline.config import OAuth1Auth, OAuth2Auth, SISConfig, secret
from pipeline.oneroster.deadline import cut_short, watched
from pipeline.oneroster.models import OneRosterError
from pipeline.oneroster.policy import RequestStats, is_transient
from pipeline.oneroster.token_cache import RunTokenCache, TokenCacheDir

SignatureType = Literal["header", "query"]
# Renew a token this long before the server says it expires (or a tenth of a short lifetime).
RENEW_MARGIN_SECONDS = 60.0
# A token answer without `expires_in` (RFC 6749 makes it optional): assume an hour.
DEFAULT_TOKEN_LIFETIME = 3600.0
# The 1EdTech scope URLs of each OneRoster version (…/scope/roster.readonly and the like).
SCOPE_PREFIXES = {"1.1": "https://purl.imsglobal.org/spec/or/v1p1/scope/",
                  "1.2": "https://purl.imsglobal.org/spec/or/v1p2/scope/"}


class OneRosterAuthError(OneRosterError):
    """The SIS refused our credentials or scopes, or its token answer is unusable: permanent
    (the message never contains a secret)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message, status, transient=False)


def oauth1(auth: OAuth1Auth, signature_type: SignatureType) -> Client:
    """An OAuth 1.0a signer for the district's key and secret; `sign` returns text (no
    `decoding`), so the transport sends its URL and headers as they are."""
    return Client(
        secret(auth.key_env, purpose="OAuth 1.0a consumer key"),
        client_secret=secret(auth.secret_env, purpose="OAuth 1.0a consumer secret"),
        signature_method=auth.signature_method,
        signature_type=SIGNATURE_TYPE_QUERY if signature_type == "query"
        else SIGNATURE_TYPE_AUTH_HEADER,
    )


class TokenManager:
    """OAuth 2 client-credentials tokens for one client, fetched lazily and renewed early;
    shared with the run's other processes through `cache_dir` when one is given."""

    def __init__(self, auth: OAuth2Auth, session: requests.Session, stats: RequestStats,
                 timeout: float, *, version: str = "1.2",
                 cache_dir: TokenCacheDir | None = None) -> None:
        self._auth = auth
        self._version = version
        self._client_id = secret(auth.client_id_env, purpose="OAuth 2 client id")
        self._client_secret = secret(auth.client_secret_env, purpose="OAuth 2 client secret")
        self._oauth = BackendApplicationClient(client_id=self._client_id)
        self._session = session
        self._stats = stats
        self._timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0  # time.monotonic()
        self._cache = None if cache_dir is None else RunTokenCache(
            cache_dir, auth.token_url, self._client_id, self._client_secret)

    def token(self) -> str:
        """A bearer token that is valid for at least the renewal margin."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                if self._cache is None:
                    self._fetch()
                else:
                    with self._cache.locked():  # the run's other steps wait, then reuse it
                        if not self._from_cache():
                            self._fetch()
                            self._cache.store(self._token or "", self._renew_at)
            assert self._token is not None
            return self._token

    def renew(self, stale: str) -> None:
        """Drop a token the SIS refused, unless another thread already replaced it."""
        with self._lock:
            if self._token == stale:
                self._token = None
                self._stats.count(token_renewals=1)
            if self._cache is not None:
                with self._cache.locked():
                    self._cache.drop(stale)

    def _from_cache(self) -> bool:
        assert self._cache is not None
        cached = self._cache.load()
        if cached is None or cached[0] == self._token:
            return False  # none, expired, or the very token we are renewing
        self._token, self._renew_at = cached
        return True

    def _fetch(self) -> None:
        url = self._auth.token_url
        body = self._oauth.prepare_request_body(scope=self._auth.scopes or None)
        with watched() as opened:
            try:
                response = self._session.post(
                    url, data=body, auth=(self._client_id, self._client_secret),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    timeout=self._timeout)
            except requests.RequestException as exc:
                late = " (no complete answer by the deadline)" if cut_short(opened) else ""
                raise OneRosterError(f"token request to {url} failed after retries: "
                                     f"{type(exc).__name__}{late}", transient=True) from None
        if cut_short(opened):
            # The watchdog shut the connection: what arrived may parse, but it is not whole.
            raise OneRosterError(f"token request to {url}: no complete answer by the "
                                 "request deadline", transient=True)
        retried = retries_of(response)
        self._stats.count(requests=1 + retried, retries=retried)
        payload = _json_object(response)
        if response.status_code != 200:
            self._refused(response.status_code, payload)
        if payload is None:
            raise OneRosterAuthError(f"the token answer from {url} is not a JSON object "
                                     f"(HTTP 200, {_content_type(response)})", 200)
        token = payload.get("access_token")
        if not isinstance(token, str) or not token:
            raise OneRosterAuthError(f"the token answer from {url} has no access_token", 200)
        lifetime = token_lifetime(payload.get("expires_in"), url)
        self._token = token
        self._renew_at = time.monotonic() + lifetime - min(RENEW_MARGIN_SECONDS, lifetime / 10)

    def _refused(self, status: int, payload: dict[str, Any] | None) -> None:
        """Raise the right error for a token request answered other than 200."""
        url = self._auth.token_url
        reason = str((payload or {}).get("error") or f"HTTP {status}")[:80]
        if is_transient(status):
            raise OneRosterError(f"token request to {url} failed after retries: {reason}",
                                 status)
        if reason == "invalid_scope":
            raise OneRosterAuthError(scope_refusal(url, self._version, self._auth.scopes),
                                     status)
        raise OneRosterAuthError(
            f"token request to {url} was refused ({reason}); check the client id and secret "
            f"in {self._auth.client_id_env} / {self._auth.client_secret_env}", status)


def scope_refusal(token_url: str, version: str, scopes: list[str]) -> str:
    """The message for a refused scope: it names the scopes, and says the credentials are not
    what the SIS refused (a server checks them before the scope)."""
    prefix = SCOPE_PREFIXES.get(version, "")
    foreign = [s for s in scopes if s.startswith(tuple(SCOPE_PREFIXES.values()))
               and not s.startswith(prefix)]
    hint = (f"; {', '.join(foreign)} belong(s) to another OneRoster version than the "
            f"district's {version}, whose scopes start {prefix}") if foreign else ""
    asked = ", ".join(scopes) if scopes else "none (the server's default)"
    return (f"token request to {token_url} was refused for its scope (invalid_scope), not for "
            f"the client id and secret: requested {asked}{hint}; fix sis.auth.scopes in the "
            "district file or the scopes granted to the client in the SIS")


def token_lifetime(expires_in: Any, token_url: str) -> float:
    """Seconds a token lives by the `expires_in` of its answer: a positive number (a numeric
    string too); absent, an hour. Anything else is a permanent error naming the value."""
    if expires_in is None:
        return DEFAULT_TOKEN_LIFETIME
    number = None
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        number = float(expires_in)
    elif isinstance(expires_in, str):
        try:
            number = float(expires_in.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number <= 0:
        raise OneRosterAuthError(f"the token answer from {token_url} has expires_in "
                                 f"{str(expires_in)[:40]!r}, not a positive number of seconds",
                                 200)
    return number


def retries_of(response: requests.Response) -> int:
    """How many retries urllib3 made before this response arrived."""
    retries = getattr(response.raw, "retries", None)
    return len(retries.history) if retries is not None else 0


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _content_type(response: requests.Response) -> str:
    return (response.headers.get("Content-Type") or "no content type")[:60]


def vendor_headers(sis: SISConfig) -> dict[str, str]:
    """The `x-vendor-authorization: key:secret` header for 1.2 gradebook calls, if configured."""
    if sis.vendor is None or sis.oneroster_version != "1.2":
        return {}
    key = secret(sis.vendor.key_env, purpose="vendor key")
    value = secret(sis.vendor.secret_env, purpose="vendor secret")
    return {"x-vendor-authorization": f"{key}:{value}"}
