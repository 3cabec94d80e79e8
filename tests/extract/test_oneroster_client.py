"""The OneRoster client against the sandbox SIS over real HTTP on loopback."""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipeline.oneroster import OneRosterAuthError, OneRosterResource
from tests.extract.helpers import CLASSES, STUDENTS, config_for, line_item, roster_tables
from tooling.sandbox.bundle import write_bundle

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run

ENROLLMENTS = STUDENTS + CLASSES  # loadable ones: students and teachers


@pytest.mark.parametrize(("version", "auth", "signature_method", "signature_type"), [
    ("1.1", "oauth1", "HMAC-SHA256", "header"),
    ("1.1", "oauth1", "HMAC-SHA1", "query"),
    ("1.2", "oauth1", "HMAC-SHA256", "query"),
    ("1.1", "oauth2", "HMAC-SHA256", "header"),
    ("1.2", "oauth2", "HMAC-SHA256", "header"),
])
def test_reads_every_collection_in_both_versions_and_auth_kinds(
        tmp_path: Path, sandbox_factory: Any, version: str, auth: str, signature_method: str,
        signature_type: str) -> None:
    sis = sandbox_factory("infinite_campus")
    config = config_for(tmp_path, sis, version=version, auth=auth,
                        signature_method=signature_method)
    resource = OneRosterResource(page_size=7, oauth1_signature_type=signature_type)
    with resource.reader(config) as client:
        enrollments = client.extract("enrollments")
        sessions = client.extract("academic_sessions")
        results = client.extract("results")
    assert enrollments.rows.num_rows == ENROLLMENTS
    assert enrollments.deleted == ["enr-gone"]
    assert [q.sourced_id for q in enrollments.quarantined] == ["enr-broken"]
    assert "user.sourcedId" in enrollments.quarantined[0].reason
    # Infinite Campus flags grading periods; the flag lands as a boolean in either version.
    windows = dict(zip(sessions.rows.column("sourced_id").to_pylist(),
                       sessions.rows.column("grading_window_open").to_pylist(), strict=True))
    assert windows["gp1"] is True and windows["year"] is None
    assert results.rows.num_rows == STUDENTS // CLASSES
    prefix = "/ims/oneroster/v1p1" if version == "1.1" else "/ims/oneroster/gradebook/v1p2"
    assert any(path.startswith(prefix + "/results") and status == 200
               for _method, path, status in sis.request_log)


def test_vendor_header_opens_infinite_campus_12_gradebook(tmp_path: Path,
                                                          sandbox_factory: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    sis = sandbox_factory("infinite_campus")
    config = config_for(tmp_path, sis, version="1.2", auth="oauth2")
    with OneRosterResource().reader(config) as client:
        assert client.extract("line_items").rows.num_rows == 2
    # The same call with a wrong vendor secret is refused: the header is what opened it.
    monkeypatch.setenv("T_VENDOR_SECRET", "wrong-vendor-secret")
    config = config_for(tmp_path, sis, version="1.2", auth="oauth2")
    with OneRosterResource().reader(config) as client, pytest.raises(OneRosterAuthError) as err:
        client.extract("line_items")
    assert "wrong-vendor-secret" not in str(err.value)


def test_wrong_secret_fails_without_echoing_it(tmp_path: Path, sandbox_factory: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    sis = sandbox_factory("oneroster")
    monkeypatch.setenv("T_OAUTH1_SECRET", "not-the-secret-xyz")
    config = config_for(tmp_path, sis, version="1.1", auth="oauth1")
    resource = OneRosterResource(oauth1_signature_type="query")
    with resource.reader(config) as client, pytest.raises(OneRosterAuthError) as err:
        client.extract("orgs")
    assert "not-the-secret-xyz" not in str(err.value)
    assert "oauth_signature=" not in str(err.value)


def test_page_size_capped_by_the_server(tmp_path: Path, sandbox_factory: Any) -> None:
    # Skyward honours at most 500 per page: asking 1000 must still read all 620 users.
    data = write_bundle(tmp_path / "big", roster_tables(students=620))
    sis = sandbox_factory("skyward", data_dir=data)
    config = config_for(tmp_path, sis, version="1.2", auth="oauth2")
    with OneRosterResource(page_size=1000).reader(config) as client:
        users = client.extract("users")
    assert users.rows.num_rows == 621
    assert users.stats.pages == 2


class _HeaderStrippingProxy(BaseHTTPRequestHandler):
    """Forwards to the sandbox and drops paging headers, like SIS that send none."""

    upstream: tuple[str, int]
    strip: tuple[str, ...]

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._forward()

    def do_POST(self) -> None:  # noqa: N802
        self._forward()

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(*self.upstream, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        conn.request(self.command, self.path, body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in (*self.strip, "content-length", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        conn.close()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("strip", [("x-total-count", "link"), ("x-total-count",)])
def test_paging_without_total_count(tmp_path: Path, sandbox_factory: Any,
                                    strip: tuple[str, ...]) -> None:
    # 620 users, a server cap of 500 and no X-Total-Count: the short first page (500 < 1000
    # asked) must not end the load; with Link headers the client follows rel="next".
    data = write_bundle(tmp_path / "big", roster_tables(students=620))
    sis = sandbox_factory("skyward", data_dir=data)
    handler = type("Proxy", (_HeaderStrippingProxy,),
                   {"upstream": (sis.host, sis.port), "strip": strip})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{proxy.server_address[1]}"
        config = config_for(tmp_path, sis, version="1.2", auth="oauth2",
                            base_url=f"{base}/ims/oneroster", token_url=f"{base}/oauth/token")
        with OneRosterResource(page_size=1000).reader(config) as client:
            users = client.extract("users")
            sessions = client.extract("academic_sessions")
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert users.rows.num_rows == 621
    assert sessions.rows.num_rows == 4
    # 500 (below the 1000 asked: the server's cap, not the end), then 121: the tail.
    assert users.stats.pages == 2
    if "link" in strip:
        assert sessions.stats.pages == 2  # 4 < 1000 asked: one more page to learn it was all
    else:
        assert sessions.stats.pages == 1  # the Link header named no next page


def test_injected_429_and_5xx_are_retried_until_the_load_completes(
        tmp_path: Path, sandbox_factory: Any, fast_oneroster: OneRosterResource) -> None:
    sis = sandbox_factory("infinite_campus",
                          faults="seed=5,error_rate=0.25,burst_429=3,retry_after_s=0")
    for auth in ("oauth2", "oauth1"):
        config = config_for(tmp_path, sis, version="1.1", auth=auth)
        with fast_oneroster.reader(config) as client:
            enrollments = client.extract("enrollments")
        assert enrollments.rows.num_rows == ENROLLMENTS
        assert enrollments.stats.retries > 0
        token_requests = 1 if auth == "oauth2" else 0
        assert enrollments.stats.requests == (enrollments.stats.pages + enrollments.stats.retries
                                              + token_requests)
    statuses = {status for _m, _p, status in sis.request_log}
    assert 429 in statuses and statuses & {500, 502, 503}


def test_retry_after_is_honoured(tmp_path: Path, sandbox_factory: Any,
                                 fast_oneroster: OneRosterResource) -> None:
    sis = sandbox_factory("oneroster", faults="burst_429=1,retry_after_s=1")
    config = config_for(tmp_path, sis, version="1.2", auth="oauth2")
    started = time.monotonic()
    with fast_oneroster.reader(config) as client:
        assert client.extract("orgs").rows.num_rows == 2
    # The backoff alone is 0.05 s at most: only Retry-After explains a wait of a second.
    assert time.monotonic() - started >= 0.9


def test_token_expired_mid_load_is_renewed_once(tmp_path: Path, sandbox_factory: Any,
                                                fast_oneroster: OneRosterResource) -> None:
    sis = sandbox_factory("oneroster", faults="latency_ms=15")
    config = config_for(tmp_path, sis, version="1.2", auth="oauth2")

    def expire_after_a_few_pages() -> None:
        deadline = time.monotonic() + 10
        while sum(1 for e in sis.request_log if "/users" in e[1]) < 2:
            if time.monotonic() > deadline:
                return
            time.sleep(0.002)
        sis.expire_tokens()

    killer = threading.Thread(target=expire_after_a_few_pages)
    killer.start()
    with fast_oneroster.reader(config) as client:
        users = client.extract("users")
        renewals = client.stats.token_renewals
    killer.join()
    assert users.rows.num_rows == STUDENTS + 1
    assert renewals >= 1
    assert any(status == 401 for _m, _p, status in sis.request_log)
    assert sum(1 for _m, path, _s in sis.request_log if path == "/oauth/token") >= 2


def test_incremental_read_fetches_only_what_changed(tmp_path: Path,
                                                    sandbox_factory: Any) -> None:
    sis = sandbox_factory("oneroster")
    config = config_for(tmp_path, sis, version="1.2", auth="oauth2")
    resource = OneRosterResource(page_size=5)
    with resource.reader(config) as client, resource.writer(config) as writer:
        first = client.extract("line_items")
        outcome = writer.put("line_items", "li-new", {
            **line_item("New quiz", sis.rostering_url, sis.gradebook_url)})
        assert outcome.ok and outcome.status in (200, 201), outcome
        later = client.extract("line_items", since=first.cursor)
        nothing = client.extract("orgs", since="2030-01-01T00:00:00.000Z")
    assert first.rows.num_rows == 2
    assert later.rows.column("sourced_id").to_pylist() == ["li-new"]
    assert later.cursor is not None and later.cursor > str(first.cursor)
    assert nothing.rows.num_rows == 0 and nothing.stats.requests == 1


def test_writes_return_status_and_imsx(tmp_path: Path, sandbox_factory: Any) -> None:
    sis = sandbox_factory("skyward")
    config = config_for(tmp_path, sis, version="1.2", auth="oauth1")
    resource = OneRosterResource()
    with resource.reader(config) as client, resource.writer(config) as writer:
        refused = writer.put("line_items", "li-bad", {
            **line_item("A title that is far too long for Skyward to accept here",
                        sis.rostering_url, sis.gradebook_url)})
        deleted = writer.delete("line_items", "li-2")
        gone = client.get("line_items", "li-2")
        missing = writer.delete("line_items", "li-2")
    assert not refused.ok and 400 <= refused.status < 500
    assert refused.imsx is not None and refused.imsx.code_major == "failure"
    assert deleted.ok and gone is None
    assert missing.status == 404 and missing.imsx is not None
