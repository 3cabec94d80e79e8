"""The steady progress line of a long read or sync: logged while the work runs, never after,
and never failing the work it watches."""

from __future__ import annotations

import threading

import pytest

from pipeline.sink.progress import progress_every, read_line


def test_the_line_is_logged_while_the_block_runs_and_not_after() -> None:
    logged: list[str] = []
    first = threading.Event()

    def log(line: str) -> None:
        logged.append(line)
        first.set()

    with progress_every(lambda: f"line {len(logged)}", log, interval=0.01):
        assert first.wait(timeout=30)  # the work outlasts one interval: a line comes
    count = len(logged)
    threading.Event().wait(0.05)
    assert logged[0] == "line 0" and len(logged) == count  # stopped with the block


def test_a_failing_line_never_fails_the_work() -> None:
    def broken() -> str:
        raise RuntimeError("no counters yet")

    with progress_every(broken, print, interval=0.01):
        threading.Event().wait(0.05)


def test_an_error_in_the_block_still_stops_the_ticker() -> None:
    with pytest.raises(ValueError), progress_every(lambda: "x", lambda _: None, interval=0.01):
        raise ValueError("the work failed")
    assert not [t for t in threading.enumerate() if t.name == "progress" and t.is_alive()]


def test_read_line_says_done_of_total_and_the_rate() -> None:
    line = read_line("results", pages=30, requests=32, retries=1, seconds=16.0,
                     total_records=100_000, page_size=1000)
    assert line == ("reading results: 30/100 pages (30% of 100000 records) in 16.0s, "
                    "2.0 req/s, retries 1")
    assert read_line("orgs", 2, 2, 0, 1.0, None, 100) == \
        "reading orgs: 2 pages in 1.0s, 2.0 req/s, retries 0"
