"""One transport for reads and writes: redirects are answers, gzip pages are read, and a read
and a write of one district share one retry loop, one retry policy and one budget.

Real HTTP on loopback (tests/sink/raw_sis.py): each SIS here is a socket server answering
exactly what the case needs.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest

from pipeline.oneroster import OneRosterError, OneRosterResource
from tests.sink.helpers import district_config
from tests.sink.raw_sis import http_answer, keep_alive, raw_sis

QUICK = OneRosterResource(max_retries=2, backoff_factor=0.0, backoff_max_seconds=0.0,
                          backoff_jitter=0.0)
ORGS = "/ims/oneroster/v1p1/orgs"


def _request_line(head: bytes) -> tuple[str, str, dict[str, list[str]]]:
    """(method, path, query) of a request head."""
    method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
    parts = urlsplit(target)
    return method, parts.path, parse_qs(parts.query)


def _orgs(count: int, start: int = 0) -> list[dict[str, str]]:
    return [{"sourcedId": f"org-{n}", "name": f"Org {n}", "type": "school"}
            for n in range(start, start + count)]


def test_a_read_answered_by_a_redirect_is_an_error_and_the_target_gets_nothing(
        credentials_env: None) -> None:
    elsewhere_heads: list[bytes] = []
    heads: list[bytes] = []
    with raw_sis(keep_alive(lambda _: http_answer(200), elsewhere_heads)) as elsewhere:
        moved = http_answer(302, b"", {"Location": f"{elsewhere.url}{ORGS}?limit=1000"})
        with raw_sis(keep_alive(lambda _: moved, heads)) as sis:
            config = district_config(sis, version="1.1", auth="oauth1")
            with QUICK.reader(config) as reader, QUICK.writer(config) as writer:
                with pytest.raises(OneRosterError) as err:
                    reader.records("orgs")
                written = writer.delete("results", "r-1")
    assert err.value.status == 302
    assert f"GET {sis.url}{ORGS}" in str(err.value) and "HTTP 302" in str(err.value)
    assert "oauth_signature" not in str(err.value)
    assert written.status == 302 and not written.ok  # a write's 3xx is its outcome, not followed
    assert len(heads) == 2 and reader.stats.retries == 0
    assert elsewhere.connections == 0 and elsewhere_heads == []


def test_a_gzip_encoded_page_is_read(credentials_env: None) -> None:
    heads: list[bytes] = []
    records = _orgs(3)
    page = gzip.compress(json.dumps({"orgs": records}).encode())
    gzipped = http_answer(200, page, {"Content-Encoding": "gzip", "X-Total-Count": "3"})
    with raw_sis(keep_alive(lambda _: gzipped, heads)) as sis:
        config = district_config(sis, version="1.1", auth="oauth1")
        with QUICK.reader(config) as reader:
            read = reader.records("orgs", since="2026-09-01T00:00:00.000Z")
    assert read == records
    assert len(heads) == 1 and b"\r\naccept-encoding: gzip" in heads[0].lower()
    method, path, query = _request_line(heads[0])
    assert (method, path) == ("GET", ORGS)
    # The filter travels url-encoded and comes back intact.
    assert query["filter"] == ["dateLastModified>'2026-09-01T00:00:00.000Z'"]
    assert b"filter=dateLastModified%3E%272026-09-01T00%3A00%3A00.000Z%27" in heads[0]
    assert (query["limit"], query["offset"]) == (["1000"], ["0"])


def test_a_read_and_a_write_retry_a_503_through_the_same_loop(credentials_env: None) -> None:
    heads: list[bytes] = []
    seen: Counter[tuple[str, str]] = Counter()

    def unavailable_once(head: bytes) -> bytes:
        method, path, _ = _request_line(head)
        seen[method, path] += 1
        if seen[method, path] == 1:
            return http_answer(503, b'{"imsx_codeMajor": "failure"}')
        if method == "GET":
            return http_answer(200, json.dumps({"orgs": _orgs(2)}).encode(),
                               {"X-Total-Count": "2"})
        return http_answer(201, b"{}")

    with raw_sis(keep_alive(unavailable_once, heads)) as sis:
        config = district_config(sis, version="1.1", auth="oauth1")
        with QUICK.reader(config) as reader, QUICK.writer(config) as writer:
            assert reader.transport.policy == writer.transport.policy == QUICK.retry_policy()
            records = reader.records("orgs")
            outcome = writer.put("line_items", "li-1", {"title": "Quiz"})
    assert len(records) == 2 and outcome.status == 201 and outcome.retries == 1
    for stats in (reader.stats, writer.stats):
        assert (stats.requests, stats.retries) == (2, 1)
    assert [_request_line(h)[0] for h in heads] == ["GET", "GET", "PUT", "PUT"]


def test_reads_and_writes_of_a_district_share_one_in_flight_budget(
        credentials_env: None) -> None:
    heads: list[bytes] = []
    in_flight, peak, lock = 0, 0, threading.Lock()

    def slow(head: bytes) -> bytes:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.03)
        with lock:
            in_flight -= 1
        method, _, query = _request_line(head)
        if method != "GET":
            return http_answer(201, b"{}")
        offset = int(query["offset"][0])
        page = _orgs(1, offset) if offset < 6 else []
        return http_answer(200, json.dumps({"orgs": page}).encode(), {"X-Total-Count": "6"})

    with raw_sis(keep_alive(slow, heads)) as sis:
        # Two slots for the district; the reader alone runs two page threads, the writer two more.
        config = district_config(sis, version="1.1", auth="oauth1", concurrency=2,
                                 district="shared-budget")
        with QUICK.reader(config) as reader, QUICK.writer(config) as writer:
            writers = [threading.Thread(target=lambda n=n: [
                writer.put("line_items", f"li-{n}-{k}", {"title": "Quiz"}) for k in range(4)])
                for n in range(2)]
            for thread in writers:
                thread.start()
            records = reader.records("orgs")
            for thread in writers:
                thread.join()
    assert len(records) == 6 and writer.stats.requests == 8
    assert peak == 2  # both slots were used, and never more than both, reads and writes alike


def test_a_url_off_the_districts_sis_is_refused_before_anything_is_sent(
        credentials_env: None) -> None:
    heads: list[bytes] = []
    with raw_sis(keep_alive(lambda _: http_answer(200), heads)) as sis:
        config = district_config(sis, version="1.1", auth="oauth1")
        lookalike = f"{sis.url}0{ORGS}"  # the same host, a port that only starts the same
        with QUICK.reader(config) as reader:
            for url in (f"http://localhost:{sis.url.rsplit(':', 1)[1]}{ORGS}", lookalike):
                with pytest.raises(OneRosterError, match="not one of the district's SIS"):
                    reader.transport.send("GET", url, service="rostering")
    assert sis.connections == 0 and heads == [] and reader.stats.requests == 0


def _trickle(part: str, records: int = 40) -> object:
    """A connection handler that answers every request slowly: a byte every 20 ms, in the
    head or in the body, each read well inside any per-read timeout."""
    body = json.dumps({"orgs": _orgs(records)}).encode()
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n").encode()

    def handle(conn: object) -> None:
        from tests.sink.raw_sis import read_request
        if not read_request(conn):  # type: ignore[arg-type]
            return
        fast, slow = (head + b"\r\n", body) if part == "body" else (b"", head + b"X-Pad: "
                                                                    + b"a" * 400 + b"\r\n\r\n")
        started = time.monotonic()
        try:
            conn.sendall(fast)  # type: ignore[attr-defined]
            for byte in slow:
                if time.monotonic() - started > 20:
                    return
                conn.sendall(bytes([byte]))  # type: ignore[attr-defined]
                time.sleep(0.02)
        except OSError:
            return  # the client gave up on us: what the deadline is for
    return handle


@pytest.mark.parametrize("part", ["body", "head"])
@pytest.mark.parametrize(("auth", "said"), [("oauth1", "deadline"), ("oauth2", "token request")])
def test_a_sis_trickling_bytes_is_cut_off_at_the_request_deadline(
        credentials_env: None, part: str, auth: str, said: str) -> None:
    patient = OneRosterResource(max_retries=1, backoff_factor=0.0, backoff_max_seconds=0.0,
                                backoff_jitter=0.0, request_deadline_seconds=0.5)
    with raw_sis(_trickle(part)) as sis:  # type: ignore[arg-type]
        # 5 s per read; with OAuth 2 the token POST is the request that trickles.
        config = district_config(sis, version="1.1" if auth == "oauth1" else "1.2", auth=auth)
        started = time.monotonic()
        with patient.reader(config) as reader, pytest.raises(OneRosterError) as err:
            reader.records("orgs")
        took = time.monotonic() - started
    # At most two attempts of half a second each, not the minute the trickle would take.
    assert took < 3.0, took
    assert said in str(err.value) and err.value.transient
    if auth == "oauth1":  # a read is retried by the transport; a token is the step's to retry
        assert sis.connections == 2 and reader.stats.retries == 1


@pytest.mark.parametrize("status", [409, 412])
def test_a_write_answered_409_or_412_is_retried_a_few_times_before_it_is_the_answer(
        credentials_env: None, status: int) -> None:
    heads: list[bytes] = []
    conflicted: Counter[str] = Counter()

    def conflict_twice(head: bytes) -> bytes:
        _, path, _ = _request_line(head)
        conflicted[path] += 1
        if path.endswith("/li-settles") and conflicted[path] > 2:
            return http_answer(201, b"{}")
        return http_answer(status, b'{"imsx_codeMajor": "failure", "imsx_description": '
                                   b'"changed meanwhile"}')

    conflicts = OneRosterResource(max_retries=6, backoff_factor=0.0, backoff_max_seconds=0.0,
                                  backoff_jitter=0.0, conflict_retries=3)
    with raw_sis(keep_alive(conflict_twice, heads)) as sis:
        config = district_config(sis, version="1.1", auth="oauth1")
        with conflicts.writer(config) as writer:
            settled = writer.put("line_items", "li-settles", {"title": "Quiz"})
            stuck = writer.delete("results", "r-stuck")
    assert (settled.status, settled.ok, settled.retries) == (201, True, 2)
    # Still in conflict after three retries: the SIS's answer, with its imsx.
    assert (stuck.status, stuck.ok, stuck.retries) == (status, False, 3)
    assert stuck.imsx is not None and stuck.imsx.description == "changed meanwhile"
    assert len(heads) == 3 + 4


def test_a_408_is_retried_and_a_404_read_is_permanent(credentials_env: None) -> None:
    heads: list[bytes] = []

    def answer(head: bytes) -> bytes:
        _, path, _ = _request_line(head)
        if path.endswith("/orgs") and len(heads) == 1:
            return http_answer(408, b"{}")
        if path.endswith("/orgs"):
            return http_answer(200, json.dumps({"orgs": _orgs(2)}).encode(),
                               {"X-Total-Count": "2"})
        return http_answer(404, b'{"imsx_codeMajor": "failure"}')

    with raw_sis(keep_alive(answer, heads)) as sis:
        config = district_config(sis, version="1.1", auth="oauth1")
        with QUICK.reader(config) as reader:
            assert len(reader.records("orgs")) == 2
            with pytest.raises(OneRosterError) as err:
                reader.records("classes")
    assert err.value.status == 404 and not err.value.transient
    assert len(heads) == 3  # the 408 once more, the 404 not at all
