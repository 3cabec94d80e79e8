"""Deterministic fault injection: latency, server errors, rate limits, drops.

A `FaultSpec` is parsed from a comma list such as
``seed=7,latency_ms=20,error_rate=0.1,rps=50,max_concurrency=5,token_ttl_s=60,drop_rate=0.02``.
Random choices come from one `random.Random(seed)` drawn in arrival order, so a
client that sends requests one at a time sees the same faults on every run.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, fields, replace
from typing import Literal


@dataclass(frozen=True)
class FaultSpec:
    """The faults and limits a sandbox applies to every request.

    Zero means "off" for every rate, limit and budget.
    """

    seed: int = 0
    latency_ms: float = 0.0
    error_rate: float = 0.0  # share of requests answered 500/502/503
    rps: float = 0.0  # requests-per-second budget; excess gets 429
    max_concurrency: int = 0  # requests in flight at once; excess gets 429
    token_ttl_s: float = 3600.0  # lifetime of OAuth 2 bearer tokens
    drop_rate: float = 0.0  # share of requests whose socket is closed unanswered
    burst_429: int = 0  # the next N requests get 429 (a burst), then normal service
    burst_every: int = 0  # repeat the 429 burst every N requests (needs burst_429)
    retry_after_s: int = 1  # the Retry-After value sent with every 429
    forget_rate: float = 0.0  # share of gradebook writes answered 2xx but never stored

    @classmethod
    def parse(cls, text: str | None) -> FaultSpec:
        """Parse ``key=value,key=value``; raise ValueError naming a bad key or value."""
        if not text or not text.strip():
            return cls()
        types = {field.name: field.type for field in fields(cls)}
        values: dict[str, int | float] = {}
        for item in text.split(","):
            if not item.strip():
                continue
            key, sep, raw = item.partition("=")
            key = key.strip()
            if not sep or key not in types:
                known = ", ".join(types)
                raise ValueError(f"bad fault setting {item!r}; known keys: {known}")
            try:
                values[key] = int(raw) if types[key] == "int" else float(raw)
            except ValueError:
                raise ValueError(f"fault setting {key} needs a number, got {raw!r}") from None
        spec = cls(**values)  # type: ignore[arg-type]
        spec.check()
        return spec

    @classmethod
    def coerce(cls, value: FaultSpec | str | None) -> FaultSpec:
        """Accept a spec, its text form, or None (no faults)."""
        return value if isinstance(value, FaultSpec) else cls.parse(value)

    def check(self) -> None:
        """Raise ValueError when a share is outside 0..1 or a limit is negative."""
        for name in ("error_rate", "drop_rate", "forget_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        for name in ("latency_ms", "rps", "max_concurrency", "burst_429", "burst_every",
                     "retry_after_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.token_ttl_s <= 0:
            raise ValueError("token_ttl_s must be positive")

    def to_text(self) -> str:
        """The spec in its comma-list form, only the settings that differ from the default."""
        default = FaultSpec()
        parts = [f"{f.name}={getattr(self, f.name)}" for f in fields(self)
                 if getattr(self, f.name) != getattr(default, f.name)]
        return ",".join(parts)

    def with_changes(self, **changes: int | float) -> FaultSpec:
        """A copy with some settings changed (for tests flipping one knob)."""
        return replace(self, **changes)  # type: ignore[arg-type]


Verdict = Literal["serve", "drop", "throttle", "error"]


@dataclass(frozen=True)
class Decision:
    """What to do with one request before it reaches a handler."""

    verdict: Verdict
    status: int = 200
    reason: str = ""


class FaultInjector:
    """Applies a `FaultSpec`; thread-safe so `set_faults` may run from the test thread."""

    def __init__(self, spec: FaultSpec) -> None:
        self._lock = threading.Lock()
        self._arrivals: deque[float] = deque()
        self._seen = 0
        self.in_flight = 0
        self.reset(spec)

    @property
    def spec(self) -> FaultSpec:
        """The spec in force."""
        return self._spec

    def reset(self, spec: FaultSpec) -> None:
        """Install a new spec, reseed the generator and restart the burst counter."""
        with self._lock:
            self._spec = spec
            self._rng = random.Random(spec.seed)
            self._burst_left = spec.burst_429
            self._seen = 0
            # Its own sequence, so losing writes never shifts the other faults' draws.
            self._forget_rng = random.Random(spec.seed + 1)

    def forget(self) -> bool:
        """Whether the SIS loses this write after answering it (`forget_rate`)."""
        with self._lock:
            rate = self._spec.forget_rate
            return rate > 0 and self._forget_rng.random() < rate

    def admit(self) -> Decision:
        """Decide a request's fate; the caller must call `release` if it was served."""
        with self._lock:
            spec = self._spec
            self._seen += 1
            if spec.max_concurrency and self.in_flight >= spec.max_concurrency:
                return Decision("throttle", 429, "too many concurrent requests")
            if spec.rps and not self._within_budget(spec.rps):
                return Decision("throttle", 429, "request rate budget exceeded")
            if self._in_burst(spec):
                return Decision("throttle", 429, "rate limit burst")
            # Draw both numbers every time so one setting never shifts the other's sequence.
            drop_draw, error_draw = self._rng.random(), self._rng.random()
            if drop_draw < spec.drop_rate:
                return Decision("drop")
            if error_draw < spec.error_rate:
                status = self._rng.choice((500, 502, 503))
                return Decision("error", status, "injected server error")
            self.in_flight += 1
            return Decision("serve")

    def release(self) -> None:
        """Mark a served request finished."""
        with self._lock:
            self.in_flight -= 1

    def _within_budget(self, rps: float) -> bool:
        now = time.monotonic()
        while self._arrivals and now - self._arrivals[0] >= 1.0:
            self._arrivals.popleft()
        if len(self._arrivals) >= rps:
            return False
        self._arrivals.append(now)
        return True

    def _in_burst(self, spec: FaultSpec) -> bool:
        if spec.burst_every and spec.burst_429 and self._seen % spec.burst_every == 1:
            self._burst_left = spec.burst_429
        if self._burst_left > 0:
            self._burst_left -= 1
            return True
        return False
