"""Authentication for OneRoster calls: OAuth 1.0a signing, OAuth 2 client credentials, and the
Infinite Campus vendor header.

OAuth 1.0a is oauthlib's signing client, applied by the transport to every attempt: it signs
the query string too, so `limit`, `offset` and `filter` are covered by the signature
whether the signature travels in the query or in the Authorization header. OAuth 2 tokens come
from a small manager built on oauthlib's `BackendApplicationClient`: one token per transport,
shared by its threads, renewed a minute before it expires and once when the SIS answers 401.
Secret values are read from the environment here and nowhere else, and never appear in a
message.
"""

from __future__ import annotations

import threading
import time
from typing import Literal

import requests
from oauthlib.oauth1 import SIGNATURE_TYPE_AUTH_HEADER, SIGNATURE_TYPE_QUERY, Client
from oauthlib.oauth2 import BackendApplicationClient

from pipeline.config import OAuth1Auth, OAuth2Auth, SISConfig, secret
from pipeline.oneroster.policy import RequestStats

SignatureType = Literal["header", "query"]
# Renew a token this long before the server says it expires (or a tenth of a short lifetime).
RENEW_MARGIN_SECONDS = 60.0


class OneRosterAuthError(RuntimeError):
    """The SIS refused our credentials (the message never contains them)."""


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
    """OAuth 2 client-credentials tokens for one client, fetched lazily and renewed early."""

    def __init__(self, auth: OAuth2Auth, session: requests.Session, stats: RequestStats,
                 timeout: float) -> None:
        self._auth = auth
        self._client_id = secret(auth.client_id_env, purpose="OAuth 2 client id")
        self._client_secret = secret(auth.client_secret_env, purpose="OAuth 2 client secret")
        self._oauth = BackendApplicationClient(client_id=self._client_id)
        self._session = session
        self._stats = stats
        self._timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def token(self) -> str:
        """A bearer token that is valid for at least the renewal margin."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def renew(self, stale: str) -> None:
        """Drop a token the SIS refused, unless another thread already replaced it."""
        with self._lock:
            if self._token == stale:
                self._token = None
                self._stats.count(token_renewals=1)

    def _fetch(self) -> None:
        body = self._oauth.prepare_request_body(scope=self._auth.scopes or None)
        try:
            response = self._session.post(
                self._auth.token_url, data=body, auth=(self._client_id, self._client_secret),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=self._timeout)
        except requests.RequestException as exc:
            raise OneRosterAuthError(
                f"token request to {self._auth.token_url} failed: {type(exc).__name__}") from None
        retried = retries_of(response)
        self._stats.count(requests=1 + retried, retries=retried)
        payload = _json_or_empty(response)
        if response.status_code != 200 or "access_token" not in payload:
            reason = payload.get("error") or f"HTTP {response.status_code}"
            raise OneRosterAuthError(
                f"token request to {self._auth.token_url} was refused ({reason}); check the "
                f"client id and secret in {self._auth.client_id_env} / "
                f"{self._auth.client_secret_env}")
        self._token = str(payload["access_token"])
        lifetime = float(payload.get("expires_in") or 3600)
        self._renew_at = time.monotonic() + lifetime - min(RENEW_MARGIN_SECONDS, lifetime / 10)


def retries_of(response: requests.Response) -> int:
    """How many retries urllib3 made before this response arrived."""
    retries = getattr(response.raw, "retries", None)
    return len(retries.history) if retries is not None else 0


def _json_or_empty(response: requests.Response) -> dict:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def vendor_headers(sis: SISConfig) -> dict[str, str]:
    """The `x-vendor-authorization: key:secret` header for 1.2 gradebook calls, if configured."""
    if sis.vendor is None or sis.oneroster_version != "1.2":
        return {}
    key = secret(sis.vendor.key_env, purpose="vendor key")
    value = secret(sis.vendor.secret_env, purpose="vendor secret")
    return {"x-vendor-authorization": f"{key}:{value}"}
