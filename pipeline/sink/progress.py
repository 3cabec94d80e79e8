"""Counters of one sync, shared by the HTTP workers, and the progress line logged from them."""

from __future__ import annotations

import threading
import time
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
