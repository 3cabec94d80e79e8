"""Counters of one sync, shared by the HTTP workers, and the progress line logged from them;
and the steady progress line of any long read (the SIS extract uses it too)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class SyncCounters:
    """What a sync did so far; workers add to it under a lock."""

    total: int = 0
    sent: int = 0
    refused: int = 0
    failed: int = 0
    deleted: int = 0
    blocked: int = 0
    retries: int = 0
    writes: int = 0  # PUT / DELETE / bulk POST requests, retries included
    requests: int = 0  # filled in when sending ends (retries and token requests included)
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, state: str, retries: int = 0) -> None:
        """Count one finished object (`sent`, `refused`, `failed`, `deleted` or `blocked`)."""
        with self._lock:
            setattr(self, state, getattr(self, state) + 1)
            self.retries += retries
            if state != "blocked":
                self.writes += 1 + retries

    def add_many(self, state: str, count: int, retries: int = 0, requests: int = 1) -> None:
        """Count `count` objects finished by `requests` write requests (a bulk POST's
        records; `requests` 0 when another request's count holds them)."""
        with self._lock:
            setattr(self, state, getattr(self, state) + count)
            self.retries += retries
            self.writes += requests + retries if requests else retries

    @property
    def done(self) -> int:
        """Objects finished, whatever the outcome."""
        return self.sent + self.refused + self.failed + self.deleted + self.blocked

    @property
    def seconds(self) -> float:
        """Seconds since the sync started sending."""
        return time.monotonic() - self.started

    def line(self, requests: int) -> str:
        """One progress line: done / total, request rate, retries, refusals, failures."""
        seconds = max(self.seconds, 1e-9)
        share = 100.0 * self.done / self.total if self.total else 100.0
        return (f"{self.done}/{self.total} ({share:.0f}%) in {seconds:.1f}s, "
                f"{requests / seconds:.1f} req/s; sent {self.sent}, deleted {self.deleted}, "
                f"refused {self.refused}, failed {self.failed}, blocked {self.blocked}, "
                f"retries {self.retries}")


# How often a long read or sync says how far it is, on the terminal as in the run's logs.
PROGRESS_INTERVAL_SECONDS = 5.0  # the sink logs its line as often (SinkExecutor)
# Set in the environment, it holds for every step: Dagster may run a step in a process of its
# own, where nothing set in the launching process but the environment reaches.
PROGRESS_ENV = "PASSBACK_PROGRESS_SECONDS"


def steady_interval() -> float:
    """Seconds between progress lines: `$PASSBACK_PROGRESS_SECONDS`, else 5."""
    raw = os.environ.get(PROGRESS_ENV, "")
    try:
        return float(raw) if raw and float(raw) > 0 else PROGRESS_INTERVAL_SECONDS
    except ValueError:
        raise ValueError(f"{PROGRESS_ENV}={raw!r} is not a number of seconds") from None


@contextmanager
def progress_every(line: Callable[[], str], log: Callable[[str], None],
                   interval: float | None = None) -> Iterator[None]:
    """Log `line()` every `interval` seconds (default `steady_interval()`) while the
    block runs (nothing for a shorter block); a daemon thread, stopped when the block ends,
    even on an error."""
    interval = interval or steady_interval()
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(interval):
            try:
                log(line())
            except Exception:  # noqa: BLE001 - a progress line never fails the work it watches
                return

    ticker = threading.Thread(target=tick, name="progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join(timeout=interval)


def read_line(entity: str, pages: int, requests: int, retries: int, seconds: float,
              total_records: int | None, page_size: int) -> str:
    """One progress line of a collection being read: pages done / expected, request rate."""
    seconds = max(seconds, 1e-9)
    expected = f"/{-(-total_records // page_size)}" if total_records and page_size else ""
    share = (f" ({min(100.0, 100.0 * pages * page_size / total_records):.0f}% of "
             f"{total_records} records)") if total_records and page_size else ""
    return (f"reading {entity}: {pages}{expected} pages{share} in {seconds:.1f}s, "
            f"{requests / seconds:.1f} req/s, retries {retries}")
