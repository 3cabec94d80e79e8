"""The sink's wire: keep-alive connections the SIS closes, refused connections, stalled answers.

The SIS here is a few lines of socket server on loopback (tests/sink/raw_sis.py), because these
are the transport's edge cases that a well-behaved server does not produce on demand.
"""

from __future__ import annotations

import socket
import threading
from types import SimpleNamespace

import pytest

from pipeline.oneroster import OneRosterError, OneRosterWriter, RetryPolicy
from tests.sink.helpers import district_config
from tests.sink.raw_sis import raw_sis, read_request

NOT_FOUND = (b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
             b"Content-Length: 2\r\n\r\n{}")
ONE_RETRY = RetryPolicy(total=1, backoff_factor=0.0, backoff_jitter=0.0)


@pytest.mark.slow
def test_a_keep_alive_connection_the_sis_closed_is_replaced_without_a_retry(
        credentials_env: None) -> None:
    # Servers close idle keep-alive connections; the next request must not be sent into one.
    def answer_then_close(conn: socket.socket) -> None:
        seen.requests.append(read_request(conn))
        conn.sendall(NOT_FOUND)  # keep-alive by HTTP/1.1 default, then closed while idle

    with raw_sis(answer_then_close) as seen, OneRosterWriter(
            district_config(seen, version="1.1", auth="oauth1"), ONE_RETRY) as writer:
        first = writer.delete("results", "r-1")
        threading.Event().wait(0.2)  # the server has closed the connection by now
        second = writer.delete("results", "r-2")
    assert (first.status, second.status) == (404, 404)
    assert (second.retries, writer.stats.retries, writer.stats.requests) == (0, 0, 2)
    assert seen.connections == 2 and len(seen.requests) == 2
    assert seen.requests[1].startswith(b"DELETE /ims/oneroster/v1p1/results/r-2 HTTP/1.1")


def test_a_refused_connection_is_retried_then_reported_by_its_cause(
        credentials_env: None) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # nothing listens here once the socket closes
    config = district_config(SimpleNamespace(url=f"http://127.0.0.1:{port}"), version="1.1",
                             auth="oauth1")
    with OneRosterWriter(config, ONE_RETRY) as writer, \
            pytest.raises(OneRosterError, match="failed after retries: ConnectionRefusedError"):
        writer.delete("results", "r-1")
    assert (writer.stats.requests, writer.stats.retries) == (2, 1)


@pytest.mark.slow
def test_an_answer_that_never_comes_times_out_and_is_retried(credentials_env: None) -> None:
    def stall_first_then_answer(conn: socket.socket) -> None:
        seen.requests.append(read_request(conn))
        if len(seen.requests) == 1:
            threading.Event().wait(1.0)  # past the read timeout; the client gives up
            return
        conn.sendall(NOT_FOUND)

    with raw_sis(stall_first_then_answer) as seen:
        config = district_config(seen, version="1.1", auth="oauth1")
        config = config.model_copy(update={"sis": config.sis.model_copy(
            update={"timeout_seconds": 0.3})})
        with OneRosterWriter(config, ONE_RETRY) as writer:
            outcome = writer.delete("results", "r-1")
    assert (outcome.status, outcome.retries) == (404, 1)
    assert (writer.stats.requests, writer.stats.retries) == (2, 1)
    assert len(seen.requests) == 2
