"""A hostile SIS read over real HTTP on loopback (issue 17, items 3, 5, 6, 9): paging that
loops or lies, a 200 that is not the collection, token answers that cannot be used, a scope
the SIS refuses. Each server here is a few lines of socket code (tests/sink/raw_sis.py)
answering exactly what the case needs; the client must stop with a clear error naming the
URL, or read exactly what the SIS holds, with a bounded number of requests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from pipeline.oneroster import OneRosterAuthError, OneRosterError, OneRosterResource
from tests.sink.helpers import ENV, district_config
from tests.sink.raw_sis import http_answer, keep_alive, raw_sis

pytestmark = pytest.mark.slow  # every test here starts a server

QUICK = OneRosterResource(max_retries=2, backoff_factor=0.0, backoff_max_seconds=0.0,
                          backoff_jitter=0.0)
CLIENT_SECRET = "hostile-client-secret"
TOKEN = json.dumps({"access_token": "tok-1", "token_type": "bearer", "expires_in": 3600})
# After this many GETs the server answers empty pages: a client that would loop for ever
# ends instead, with the wrong records and no error, so the assertions fail rather than hang.
LOOP_GUARD = 40


def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("key", "k"), ("secret", "s"), ("client_id", "hostile-client"),
                        ("client_secret", CLIENT_SECRET)):
        monkeypatch.setenv(ENV[name], value)


def _classes(count: int, start: int = 0) -> list[dict[str, object]]:
    return [{"sourcedId": f"class-{n}", "title": f"Class {n}", "classType": "scheduled",
             "course": {"sourcedId": "c", "type": "course", "href": "x"},
             "school": {"sourcedId": "s", "type": "org", "href": "x"},
             "terms": [{"sourcedId": "t", "type": "academicSession", "href": "x"}]}
            for n in range(start, start + count)]


class Hostile:
    """A SIS answering GETs with `pages(offset, path)` and token requests with `token`."""

    def __init__(self, pages: Callable[[int, str], bytes], token: bytes = TOKEN.encode(),
                 token_status: int = 200) -> None:
        self.pages, self.token, self.token_status = pages, token, token_status
        self.heads: list[bytes] = []

    def answer(self, head: bytes) -> bytes:
        method, target = head.split(b"\r\n", 1)[0].decode().split(" ")[:2]
        parts = urlsplit(target)
        if method == "POST":
            return http_answer(self.token_status, self.token)
        if self.gets > LOOP_GUARD:
            return http_answer(200, json.dumps({"classes": []}).encode())
        offset = int(parse_qs(parts.query).get("offset", ["0"])[0])
        return self.pages(offset, parts.path)

    @property
    def gets(self) -> int:
        return sum(1 for head in self.heads if head.startswith(b"GET "))

    @property
    def token_requests(self) -> int:
        return sum(1 for head in self.heads if head.startswith(b"POST "))


def _read(hostile: Hostile, monkeypatch: pytest.MonkeyPatch, *, auth: str = "oauth1",
          entity: str = "classes", resource: OneRosterResource = QUICK,
          **config: object) -> tuple[list[dict], str]:
    """Read `entity` from the hostile SIS: (records, "") or ([], the error's message)."""
    _secrets(monkeypatch)
    with raw_sis(keep_alive(hostile.answer, hostile.heads)) as sis:
        sis.token_url = f"{sis.url}/oauth/token"
        district = district_config(sis, version="1.1", auth=auth, **config)
        with resource.reader(district) as reader:
            try:
                return reader.records(entity), ""
            except OneRosterError as error:
                assert CLIENT_SECRET not in str(error)
                return [], str(error)


def _page(records: list[dict], headers: dict[str, str] | None = None) -> bytes:
    return http_answer(200, json.dumps({"classes": records}).encode(), headers)


# Item 3: paging --------------------------------------------------------------------------

def test_a_next_link_back_to_a_page_already_read_stops_with_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def pages(offset: int, path: str) -> bytes:
        # Page two names itself as the next page: a server that would be read for ever.
        return _page(_classes(3, offset), {"Link": f'<{path}?limit=3&offset=3>; rel="next"'})

    hostile = Hostile(pages)
    records, error = _read(hostile, monkeypatch)
    assert "already fetched" in error and "offset=3" in error and "(classes)" in error
    assert hostile.gets == 2 and records == []


def test_a_sis_ignoring_the_offset_stops_with_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = Hostile(lambda offset, path: _page(_classes(3)))  # the same page at any offset
    records, error = _read(hostile, monkeypatch)
    assert "repeats records already read" in error and "offset=3" in error
    assert hostile.gets == 2 and records == []


@pytest.mark.parametrize("total", [100_000, 1_000_000_000])
def test_a_huge_total_count_is_a_hint_not_a_queue_of_offsets(
        monkeypatch: pytest.MonkeyPatch, total: int) -> None:
    held = _classes(5)

    def pages(offset: int, path: str) -> bytes:
        return _page(held[offset:offset + 1000], {"X-Total-Count": str(total)})

    hostile = Hostile(pages)
    started = time.monotonic()
    records, error = _read(hostile, monkeypatch, concurrency=4)
    assert (error, [r["sourcedId"] for r in records]) == ("", [r["sourcedId"] for r in held])
    # The first page, then one window of four side by side that came back empty.
    assert hostile.gets <= 1 + 4 and time.monotonic() - started < 5


def test_pages_beyond_an_honest_total_and_a_short_last_page_read_everything(
        monkeypatch: pytest.MonkeyPatch) -> None:
    held = _classes(23)

    def pages(offset: int, path: str) -> bytes:  # a server page of 5, whatever we ask
        return _page(held[offset:offset + 5], {"X-Total-Count": "12"})  # under-reports

    hostile = Hostile(pages)
    records, error = _read(hostile, monkeypatch, concurrency=2)
    assert error == "" and len(records) == 23
    assert hostile.gets <= 23 // 5 + 1 + 2  # the pages, plus at most one window past the end


# Item 5: a 200 that is not the collection --------------------------------------------------

@pytest.mark.parametrize("body", [{"data": []}, {"data": _classes(2)}, {}])
def test_a_200_without_the_collection_is_an_error_naming_the_url_and_the_wrapper(
        monkeypatch: pytest.MonkeyPatch, body: dict) -> None:
    hostile = Hostile(lambda offset, path: http_answer(200, json.dumps(body).encode()))
    records, error = _read(hostile, monkeypatch)
    assert "/ims/oneroster/v1p1/classes" in error and "(classes)" in error
    assert 'expected {"classes": [...]}' in error and records == []
    assert hostile.gets == 1  # permanent: not retried


# Item 6: token answers ---------------------------------------------------------------------

@pytest.mark.parametrize(("token", "fragment"), [
    ({"access_token": "tok-1", "expires_in": "soon"}, "expires_in 'soon'"),
    ({"access_token": "tok-1", "expires_in": -5}, "expires_in '-5'"),
    ({"token_type": "bearer", "expires_in": 3600}, "has no access_token"),
    ("<html>Sign in</html>", "not a JSON object"),
])
def test_an_unusable_token_answer_fails_at_once_with_its_cause(
        monkeypatch: pytest.MonkeyPatch, token: object, fragment: str) -> None:
    body = token.encode() if isinstance(token, str) else json.dumps(token).encode()
    hostile = Hostile(lambda offset, path: _page(_classes(2)), token=body)
    _secrets(monkeypatch)
    with raw_sis(keep_alive(hostile.answer, hostile.heads)) as sis:
        sis.token_url = f"{sis.url}/oauth/token"
        with QUICK.reader(district_config(sis, version="1.1")) as reader, \
                pytest.raises(OneRosterAuthError) as err:
            reader.records("classes")
    assert fragment in str(err.value) and "/oauth/token" in str(err.value)
    assert not err.value.transient and CLIENT_SECRET not in str(err.value)
    assert hostile.token_requests == 1 and hostile.gets == 0


def test_a_token_answer_without_expires_in_is_used_for_a_sane_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = Hostile(lambda offset, path: _page(_classes(2)[offset:]),
                      token=json.dumps({"access_token": "tok-1"}).encode())
    records, error = _read(hostile, monkeypatch, auth="oauth2")
    assert error == "" and len(records) == 2 and hostile.token_requests == 1
    assert all(b"authorization: bearer tok-1" in h.lower() for h in hostile.heads
               if h.startswith(b"GET "))


@pytest.mark.parametrize("status", [403, 400])
def test_a_permanent_read_error_is_not_retried(monkeypatch: pytest.MonkeyPatch,
                                               status: int) -> None:
    hostile = Hostile(lambda offset, path: http_answer(status, b'{"imsx_codeMajor": "failure"}'))
    records, error = _read(hostile, monkeypatch)
    assert f"HTTP {status}" in error and hostile.gets == 1


def test_a_refused_scope_is_named_as_the_scope_not_the_credentials(
        monkeypatch: pytest.MonkeyPatch) -> None:
    refused = json.dumps({"error": "invalid_scope"}).encode()
    hostile = Hostile(lambda offset, path: _page(_classes(2)), token=refused, token_status=400)
    _secrets(monkeypatch)
    with raw_sis(keep_alive(hostile.answer, hostile.heads)) as sis:
        sis.token_url = f"{sis.url}/oauth/token"
        district = district_config(sis, version="1.1")
        district.sis.auth.scopes.append(  # type: ignore[union-attr]
            "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly")
        with QUICK.reader(district) as reader, pytest.raises(OneRosterAuthError) as err:
            reader.records("classes")
    message = str(err.value)
    assert "refused for its scope (invalid_scope), not for the client id and secret" in message
    assert "v1p2/scope/roster.readonly" in message and "district's 1.1" in message
    assert "v1p1/scope/" in message and "check the client id" not in message
    assert hostile.token_requests == 1
