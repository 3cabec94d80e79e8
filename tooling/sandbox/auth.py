"""Who may call the sandbox: OAuth 1.0a signatures and OAuth 2 bearer tokens.

OAuth 1.0a (HMAC-SHA1 / HMAC-SHA256, two-legged) is verified with oauthlib's
`SignatureOnlyEndpoint`, including query parameters, timestamp and nonce
replay. OAuth 2 client credentials are issued by oauthlib's
`BackendApplicationServer` at ``/oauth/token`` with the 1EdTech scopes of both
versions: OneRoster 1.1 scopes (``…/or/v1p1/scope/…``) open the 1.1 paths and
1.2 scopes (``…/or/v1p2/scope/…``) the 1.2 ones, as the specs name them, so a
district asking for the other version's scopes gets a 403 naming the scope. An
unknown scope is refused at the token endpoint with ``invalid_scope`` (after the
client is authenticated). Both kinds work on every path; an OAuth 1 key carries
every scope.
"""

from __future__ import annotations

import base64
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256, SignatureOnlyEndpoint
from oauthlib.oauth1 import RequestValidator as OAuth1Validator
from oauthlib.oauth2 import BackendApplicationServer
from oauthlib.oauth2 import RequestValidator as OAuth2Validator

from tooling.sandbox.errors import ImsxError

SCOPE_PREFIX = "https://purl.imsglobal.org/spec/or/v1p2/scope/"
V1P1_SCOPE_PREFIX = "https://purl.imsglobal.org/spec/or/v1p1/scope/"
V1P2_SCOPES = tuple(SCOPE_PREFIX + name for name in (
    "roster.readonly", "roster-core.readonly", "roster-demographics.readonly",
    "gradebook.readonly", "gradebook-core.readonly", "gradebook.createput",
    "gradebook.createpost", "gradebook.delete",
))
# OneRoster 1.1's OAuth 2 scopes (its REST binding; 1.1 has no -core gradebook or createpost).
V1P1_SCOPES = tuple(V1P1_SCOPE_PREFIX + name for name in (
    "roster.readonly", "roster-core.readonly", "roster-demographics.readonly",
    "resource.readonly", "gradebook.readonly", "gradebook.createput", "gradebook.delete",
))
ALL_SCOPES = V1P2_SCOPES + V1P1_SCOPES
# Any one of the listed scopes opens a (family, method) pair, per version.
REQUIRED_SCOPES = {
    ("roster", "GET"): ("roster.readonly", "roster-core.readonly"),
    ("gradebook", "GET"): ("gradebook.readonly", "gradebook-core.readonly"),
    ("gradebook", "PUT"): ("gradebook.createput",),
    # The spec asks createpost for bulk POSTs; createput is accepted too because a
    # client that may create by PUT has nothing more to gain from POST.
    ("gradebook", "POST"): ("gradebook.createpost", "gradebook.createput"),
    ("gradebook", "DELETE"): ("gradebook.delete",),
}
_NEEDED = {
    (v1p2, key): tuple(uri for uri in (prefix + name for name in names)
                       if uri in ALL_SCOPES)
    for v1p2, prefix in ((True, SCOPE_PREFIX), (False, V1P1_SCOPE_PREFIX))
    for key, names in REQUIRED_SCOPES.items()
}


def needed_scopes(family: str, method: str, v1p2: bool) -> tuple[str, ...]:
    """The scopes of which any one opens `method` on a `family` path of that version."""
    return _NEEDED[(v1p2, (family, method))]
NONCE_WINDOW_S = 600  # oauthlib's default timestamp lifetime; nonces older than this expire


@dataclass(frozen=True)
class SandboxCredentials:
    """The keys and secrets a sandbox accepts."""

    oauth1_key: str = "sandbox-key"
    oauth1_secret: str = "sandbox-secret"
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-client-secret"
    vendor_key: str = "sandbox-vendor-key"
    vendor_secret: str = "sandbox-vendor-secret"

    @classmethod
    def from_env(cls, **overrides: str | None) -> SandboxCredentials:
        """Demo defaults, replaced by PASSBACK_SANDBOX_* variables, replaced by overrides."""
        env = {"oauth1_key": "OAUTH1_KEY", "oauth1_secret": "OAUTH1_SECRET",
               "client_id": "CLIENT_ID", "client_secret": "CLIENT_SECRET",
               "vendor_key": "VENDOR_KEY", "vendor_secret": "VENDOR_SECRET"}
        values = {}
        for field, suffix in env.items():
            value = overrides.get(field) or os.environ.get(f"PASSBACK_SANDBOX_{suffix}")
            if value:
                values[field] = value
        return cls(**values)


def _unauthorized(description: str) -> ImsxError:
    return ImsxError(401, "unauthorisedrequest", description,
                     {"WWW-Authenticate": 'Bearer realm="passback-sandbox"'})


class _SignatureValidator(OAuth1Validator):
    """oauthlib callbacks for the sandbox's single OAuth 1 consumer."""

    enforce_ssl = False  # loopback HTTP
    allowed_signature_methods = (SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256)
    timestamp_lifetime = NONCE_WINDOW_S

    def __init__(self, owner: Authenticator) -> None:
        super().__init__()
        self.owner = owner
        self.replayed = False

    # SIS-issued keys contain hyphens and vary in length; oauthlib's default charset check
    # would reject them before the signature is even looked at.
    def check_client_key(self, client_key: str) -> bool:
        return True

    def check_nonce(self, nonce: str) -> bool:
        return bool(nonce)

    @property
    def dummy_client(self) -> str:
        return "dummy-client"

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key == self.owner.credentials.oauth1_key

    def get_client_secret(self, client_key: str, request: Any) -> str:
        if client_key == self.owner.credentials.oauth1_key:
            return self.owner.credentials.oauth1_secret
        return "dummy-secret"

    def validate_timestamp_and_nonce(self, client_key: str, timestamp: str, nonce: str,
                                     request: Any, request_token: Any = None,
                                     access_token: Any = None) -> bool:
        fresh = self.owner.remember_nonce(client_key, nonce, int(timestamp))
        self.replayed = not fresh
        return fresh


class _TokenValidator(OAuth2Validator):
    """oauthlib callbacks for the client-credentials grant."""

    def __init__(self, owner: Authenticator) -> None:
        super().__init__()
        self.owner = owner

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        client_id, client_secret = request.client_id, request.client_secret
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            decoded = base64.b64decode(header[6:].strip()).decode("utf-8", "replace")
            client_id, _, client_secret = decoded.partition(":")
        credentials = self.owner.credentials
        if client_id == credentials.client_id and client_secret == credentials.client_secret:
            request.client = SimpleNamespace(client_id=client_id)
            return True
        return False

    def validate_grant_type(self, client_id: str, grant_type: str, client: Any, request: Any,
                            *args: Any, **kwargs: Any) -> bool:
        return grant_type == "client_credentials"

    def validate_scopes(self, client_id: str, scopes: list[str], client: Any, request: Any,
                        *args: Any, **kwargs: Any) -> bool:
        return all(scope in ALL_SCOPES for scope in scopes)

    def get_default_scopes(self, client_id: str, request: Any, *args: Any,
                           **kwargs: Any) -> list[str]:
        return list(ALL_SCOPES)  # a request without scope gets every scope

    def save_bearer_token(self, token: dict[str, Any], request: Any, *args: Any,
                          **kwargs: Any) -> None:
        self.owner.store_token(token["access_token"], request.scopes)


class Authenticator:
    """Checks credentials on each request and issues bearer tokens."""

    def __init__(self, credentials: SandboxCredentials, token_ttl: Callable[[], float]) -> None:
        self.credentials = credentials
        self._token_ttl = token_ttl
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, frozenset[str]]] = {}
        self._nonces: dict[tuple[str, str], int] = {}
        self._token_server = BackendApplicationServer(
            _TokenValidator(self), token_expires_in=lambda _request: math.ceil(token_ttl()))

    # OAuth 2
    def token_response(self, uri: str, body: str, headers: dict[str, str]
                       ) -> tuple[int, dict[str, str], str]:
        """Answer a token request: (status, headers, JSON body) as oauthlib builds them."""
        response_headers, response_body, status = self._token_server.create_token_response(
            uri, "POST", body, headers)
        return status, dict(response_headers), response_body

    def store_token(self, token: str, scopes: list[str] | None) -> None:
        """Remember an issued token until its lifetime runs out."""
        with self._lock:
            now = time.monotonic()
            self._tokens = {t: v for t, v in self._tokens.items() if v[0] > now} \
                if len(self._tokens) > 10_000 else self._tokens
            self._tokens[token] = (now + self._token_ttl(), frozenset(scopes or ALL_SCOPES))

    def expire_tokens(self) -> None:
        """Forget every bearer token at once."""
        with self._lock:
            self._tokens.clear()

    def bearer_scopes(self, token: str) -> frozenset[str]:
        """The scopes of a live token; 401 when it is unknown or expired."""
        entry = self._tokens.get(token)
        if entry is None:
            raise _unauthorized("the access token is unknown or has been revoked")
        if entry[0] <= time.monotonic():
            raise _unauthorized("the access token has expired; request a new one")
        return entry[1]

    # OAuth 1
    def remember_nonce(self, client_key: str, nonce: str, timestamp: int) -> bool:
        """Record a nonce; False when the same key already used it (a replay)."""
        with self._lock:
            if len(self._nonces) > 50_000:
                horizon = time.time() - NONCE_WINDOW_S
                self._nonces = {k: t for k, t in self._nonces.items() if t > horizon}
            if (client_key, nonce) in self._nonces:
                return False
            self._nonces[(client_key, nonce)] = timestamp
            return True

    def verify_signature(self, uri: str, method: str, body: str | None,
                         headers: dict[str, str]) -> frozenset[str]:
        """Verify an OAuth 1.0a signed request; 401 with the reason when it fails."""
        validator = _SignatureValidator(self)
        valid, request = SignatureOnlyEndpoint(validator).validate_request(
            uri, method, body, headers)
        if valid:
            return frozenset(ALL_SCOPES)
        if validator.replayed:
            raise _unauthorized("OAuth 1 nonce was already used (replayed request)")
        if request is None or not request.timestamp:
            raise _unauthorized("OAuth 1 parameters are missing or malformed")
        if abs(time.time() - int(request.timestamp)) > NONCE_WINDOW_S:
            raise _unauthorized("OAuth 1 timestamp is too far from the server's clock")
        if request.signature_method not in validator.allowed_signature_methods:
            raise _unauthorized(f"OAuth 1 signature method {request.signature_method} "
                                "is not supported; use HMAC-SHA256 or HMAC-SHA1")
        if not request.validator_log.get("client", True):
            raise _unauthorized("OAuth 1 consumer key is not known")
        raise _unauthorized("OAuth 1 signature does not match the request")

    def scopes_for(self, uri: str, method: str, body: str | None,
                   headers: dict[str, str]) -> frozenset[str]:
        """The scopes a request carries, whichever auth kind it uses."""
        authorization = headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            return self.bearer_scopes(authorization[7:].strip())
        if authorization[:6].lower() == "oauth " or "oauth_signature=" in uri:
            return self.verify_signature(uri, method, body, headers)
        raise _unauthorized("no credentials: send an OAuth 2 bearer token or an OAuth 1 "
                            "signature")
