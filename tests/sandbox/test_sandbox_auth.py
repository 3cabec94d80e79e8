"""Authentication and authorisation: OAuth 1.0a, OAuth 2 tokens and scopes, vendor header."""

from __future__ import annotations

import time

import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256
from requests_oauthlib import OAuth1

from tests.sandbox.helpers import line_item_12, session_for, token
from tooling.sandbox import SandboxSIS


def oauth1(sis: SandboxSIS, method: str = SIGNATURE_HMAC_SHA256,
           secret: str | None = None) -> OAuth1:
    return OAuth1(sis.credentials.oauth1_key, secret or sis.credentials.oauth1_secret,
                  signature_method=method)


def description(response: requests.Response) -> str:
    return response.json()["imsx_description"]


@pytest.mark.slow
@pytest.mark.parametrize("method", [SIGNATURE_HMAC_SHA256, SIGNATURE_HMAC_SHA1])
def test_oauth1_signatures_work_on_every_service(sis: SandboxSIS, method: str) -> None:
    for url in (f"{sis.v1p1_url}/classes", f"{sis.rostering_url}/classes",
                f"{sis.gradebook_url}/categories"):
        response = requests.get(url, params={"limit": 2, "filter": "status='active'"},
                                auth=oauth1(sis, method), timeout=5)
        assert response.status_code == 200, response.text
    put = requests.put(f"{sis.gradebook_url}/lineItems/li-oauth1", json=line_item_12("li-oauth1"),
                       auth=oauth1(sis, method), timeout=5)
    assert put.status_code == 201, put.text


@pytest.mark.slow
def test_oauth1_bad_signature(sis: SandboxSIS) -> None:
    response = requests.get(f"{sis.v1p1_url}/orgs", auth=oauth1(sis, secret="wrong"), timeout=5)
    assert response.status_code == 401
    assert "signature" in description(response)


@pytest.mark.slow
def test_oauth1_unknown_key(sis: SandboxSIS) -> None:
    auth = OAuth1("stranger", "x", signature_method=SIGNATURE_HMAC_SHA256)
    response = requests.get(f"{sis.v1p1_url}/orgs", auth=auth, timeout=5)
    assert response.status_code == 401 and "key" in description(response)


@pytest.mark.slow
def test_oauth1_replayed_nonce(sis: SandboxSIS) -> None:
    signed = requests.Request("GET", f"{sis.v1p1_url}/orgs", auth=oauth1(sis)).prepare()
    with requests.Session() as session:
        assert session.send(signed, timeout=5).status_code == 200
        replay = session.send(signed, timeout=5)
    assert replay.status_code == 401 and "nonce" in description(replay)


@pytest.mark.slow
def test_oauth1_query_parameters_are_signed(sis: SandboxSIS) -> None:
    signed = requests.Request("GET", f"{sis.v1p1_url}/orgs", params={"limit": "1"},
                              auth=oauth1(sis)).prepare()
    signed.url = signed.url.replace("limit=1", "limit=2")  # tampered after signing
    with requests.Session() as session:
        response = session.send(signed, timeout=5)
    assert response.status_code == 401


@pytest.mark.slow
def test_oauth1_stale_timestamp(sis: SandboxSIS) -> None:
    from oauthlib.oauth1 import Client

    client = Client(sis.credentials.oauth1_key, sis.credentials.oauth1_secret,
                    signature_method=SIGNATURE_HMAC_SHA256, timestamp=str(int(time.time()) - 3600))
    uri, headers, _ = client.sign(f"{sis.v1p1_url}/orgs")
    response = requests.get(uri, headers=headers, timeout=5)
    assert response.status_code == 401 and "timestamp" in description(response)


@pytest.mark.slow
def test_no_credentials(sis: SandboxSIS) -> None:
    response = requests.get(f"{sis.rostering_url}/orgs", timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.slow
def test_token_endpoint(sis: SandboxSIS) -> None:
    ok = requests.post(sis.token_url, timeout=5, data={
        "grant_type": "client_credentials", "client_id": sis.credentials.client_id,
        "client_secret": sis.credentials.client_secret})  # credentials in the body work too
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"].lower() == "bearer" and body["expires_in"] == 3600
    assert "gradebook.createput" in body["scope"]  # no scope asked: every scope granted
    bad = requests.post(sis.token_url, data={"grant_type": "client_credentials"},
                        auth=(sis.credentials.client_id, "wrong"), timeout=5)
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    unknown_scope = requests.post(sis.token_url, timeout=5, auth=(
        sis.credentials.client_id, sis.credentials.client_secret), data={
        "grant_type": "client_credentials", "scope": "https://example.org/scope/everything"})
    assert unknown_scope.status_code == 400 and unknown_scope.json()["error"] == "invalid_scope"


@pytest.mark.slow
def test_unknown_bearer_token(sis: SandboxSIS) -> None:
    response = requests.get(f"{sis.rostering_url}/orgs", timeout=5,
                            headers={"Authorization": "Bearer made-up"})
    assert response.status_code == 401


@pytest.mark.slow
def test_read_only_token_cannot_write(sis: SandboxSIS) -> None:
    api = session_for(sis, "roster.readonly", "gradebook.readonly")
    assert api.get(f"{sis.gradebook_url}/lineItems").status_code == 200
    response = api.put(f"{sis.gradebook_url}/lineItems/li-ro", json=line_item_12("li-ro"))
    assert response.status_code == 403
    assert "gradebook.createput" in description(response)
    assert api.delete(f"{sis.gradebook_url}/lineItems/li-ro").status_code == 403
    assert sis.store.line_item("li-ro") is None


@pytest.mark.slow
def test_missing_scope_for_reads(sis: SandboxSIS) -> None:
    gradebook_only = session_for(sis, "gradebook.readonly")
    assert gradebook_only.get(f"{sis.rostering_url}/classes").status_code == 403
    assert gradebook_only.get(f"{sis.v1p1_url}/classes").status_code == 403  # 1.1 too
    writer = session_for(sis, "gradebook.createput")
    assert writer.get(f"{sis.gradebook_url}/lineItems").status_code == 403
    assert writer.put(f"{sis.gradebook_url}/lineItems/li-w",
                      json=line_item_12("li-w")).status_code == 201
    assert writer.delete(f"{sis.gradebook_url}/lineItems/li-w").status_code == 403


@pytest.mark.slow
def test_expired_and_revoked_tokens(sis: SandboxSIS) -> None:
    """A token lives as long as the `token_ttl_s` fault says (and the token endpoint says so);
    revoking every token mid-run makes the next call re-authenticate."""
    sis.set_faults("token_ttl_s=60")
    try:
        response = requests.post(sis.token_url, data={"grant_type": "client_credentials"},
                                 auth=(sis.credentials.client_id, sis.credentials.client_secret),
                                 timeout=5)
        assert response.json()["expires_in"] == 60
    finally:
        sis.set_faults(None)
    sis.set_faults("token_ttl_s=0.3")
    try:
        short = session_for(sis)
        assert short.get(f"{sis.rostering_url}/orgs").status_code == 200
        time.sleep(0.4)
        expired = short.get(f"{sis.rostering_url}/orgs")
        assert expired.status_code == 401 and "expired" in description(expired)
    finally:
        sis.set_faults(None)
    api = session_for(sis)
    assert api.get(f"{sis.rostering_url}/orgs").status_code == 200
    sis.expire_tokens()
    assert api.get(f"{sis.rostering_url}/orgs").status_code == 401
    assert session_for(sis).get(f"{sis.rostering_url}/orgs").status_code == 200


@pytest.mark.slow
def test_infinite_campus_vendor_header(ic_sis: SandboxSIS) -> None:
    without = session_for(ic_sis, vendor=False)
    missing = without.get(f"{ic_sis.gradebook_url}/lineItems")
    assert missing.status_code == 401 and "x-vendor-authorization" in description(missing)
    assert without.get(f"{ic_sis.v1p1_url}/lineItems").status_code == 200  # 1.1: not needed
    assert without.get(f"{ic_sis.rostering_url}/classes").status_code == 200  # rostering: not
    wrong = without.get(f"{ic_sis.gradebook_url}/lineItems",
                        headers={"x-vendor-authorization": "sandbox-vendor-key:nope"})
    assert wrong.status_code == 401
    assert session_for(ic_sis).get(f"{ic_sis.gradebook_url}/lineItems").status_code == 200


def test_credentials_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from tooling.sandbox import SandboxCredentials

    monkeypatch.setenv("PASSBACK_SANDBOX_CLIENT_ID", "district-client")
    monkeypatch.setenv("PASSBACK_SANDBOX_VENDOR_SECRET", "vs")
    creds = SandboxCredentials.from_env(client_secret="flag-secret")
    assert (creds.client_id, creds.client_secret, creds.vendor_secret, creds.oauth1_key) == \
        ("district-client", "flag-secret", "vs", "sandbox-key")


@pytest.mark.slow
def test_token_helper_scopes_are_narrow(sis: SandboxSIS) -> None:
    narrow = token(sis, "roster.readonly")
    response = requests.get(f"{sis.gradebook_url}/categories", timeout=5,
                            headers={"Authorization": f"Bearer {narrow}"})
    assert response.status_code == 403
