"""A deliberately bad OneRoster server on loopback: it serves `enrollments` the way a broken SIS
might (lying paging headers, HTML with 200, truncated JSON, imsx failures with 200, redirect
loops ...), and a token endpoint that always grants, so the client gets as far as the data."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE = 3  # the server's own page size (below any limit the client asks for)
Answer = tuple[int, dict[str, str], bytes]
# A scenario answers one enrollments GET from its offset and the full list of records.
Scenario = Callable[[int, list[dict[str, Any]]], Answer]


def enrollment(n: int) -> dict[str, Any]:
    """A complete 1.2 enrollment record."""
    return {"sourcedId": f"enr-{n}", "status": "active",
            "dateLastModified": f"2026-09-0{1 + n % 9}T00:00:00.000Z",
            "class": {"href": "x", "sourcedId": f"cls-{n % 2}", "type": "class"},
            "school": {"href": "x", "sourcedId": "sch-1", "type": "org"},
            "user": {"href": "x", "sourcedId": f"stu-{n}", "type": "user"},
            "role": "student", "primary": False}


GOOD_RECORDS = [enrollment(n) for n in range(8)]


def page(offset: int, records: list[dict[str, Any]], *, total: int | None = None,
         links: bool = True) -> Answer:
    """An honest page of PAGE records, with X-Total-Count and Link headers by default."""
    chunk = records[offset:offset + PAGE]
    headers = {"Content-Type": "application/json",
               "X-Total-Count": str(len(records) if total is None else total)}
    if links and offset + PAGE < len(records):
        headers["Link"] = f'<{{base}}?limit={PAGE}&offset={offset + PAGE}>; rel="next"'
    return 200, headers, json.dumps({"enrollments": chunk}).encode()


def honest(offset: int, records: list[dict[str, Any]]) -> Answer:
    """A well-behaved server."""
    return page(offset, records)


class _Handler(BaseHTTPRequestHandler):
    server: BadSIS

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        return

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._answer(200, {"Content-Type": "application/json"}, json.dumps(
            {"access_token": "bad-sis-token", "token_type": "bearer",
             "expires_in": 3600}).encode())

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        offset = int(parse_qs(parts.query).get("offset", ["0"])[0])
        self.server.requests += 1
        status, headers, body = self.server.scenario(offset, self.server.records)
        base = f"http://127.0.0.1:{self.server.server_port}{parts.path}"
        self._answer(status, {k: v.replace("{base}", base) for k, v in headers.items()}, body)

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class BadSIS(ThreadingHTTPServer):
    """The server; `scenario` and `records` may be swapped between requests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scenario: Scenario = honest
        self.records: list[dict[str, Any]] = GOOD_RECORDS
        self.requests = 0

    @property
    def url(self) -> str:
        """The server root."""
        return f"http://127.0.0.1:{self.server_port}"


@contextmanager
def bad_sis() -> Iterator[BadSIS]:
    """A running BadSIS in a background thread."""
    server = BadSIS()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
