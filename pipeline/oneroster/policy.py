"""What governs every call to a SIS, whatever sends it: the retry policy, the district's
budget, the request counters and URL redaction (the wire itself is `transport.py`).

The policy is urllib3's `Retry` (408, 429, 5xx, timeouts and dropped connections;
`Retry-After` honoured; exponential backoff with jitter), applied by the transport's one retry
loop, plus a per-request deadline (the whole answer, body included, however slowly it trickles)
and a few retries of a write answered 409 / 412 (a concurrent edit on the SIS side settles).
The district's budget (requests per second and requests in flight) is one object per district
per process, shared by every reader, writer and thread that talks to that SIS.

What is transient and what is permanent is decided here, once (`is_transient`): transient
failures are retried within the budget (and a Dagster step may retry them later); permanent
ones (a 400, 401, 403, 404, a body that is not the collection) fail at once with their cause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from urllib3.util.retry import Retry

# Answers that may differ on a second try: a timeout, a rate limit, a SIS briefly down.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# A write that met a concurrent change (409 Conflict, 412 Precondition Failed): retried a few
# times, then reported as the SIS's answer.
CONFLICT_STATUSES = frozenset({409, 412})
WRITE_METHODS = frozenset({"PUT", "DELETE", "POST"})
# PUT and DELETE are idempotent in OneRoster (the client picks the sourcedId), so they retry.
RETRY_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how patiently to retry a request."""

    total: int = 6
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    backoff_jitter: float = 0.25
    # The longest one request may take, answer and body included: a per-read timeout alone
    # lets a SIS trickling a byte at a time hold a request (and a run) for ever.
    deadline: float = 120.0
    # Retries of a write answered 409 / 412, within `total`.
    conflict_retries: int = 3

    def retry(self, methods: frozenset[str] = RETRY_METHODS,
              statuses: frozenset[int] = RETRY_STATUSES) -> Retry:
        """The urllib3 `Retry` for this policy (`statuses` are retried for `methods`)."""
        return Retry(
            total=self.total,
            connect=self.total,
            read=self.total,
            status=self.total,
            status_forcelist=statuses,
            allowed_methods=methods,
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            backoff_jitter=self.backoff_jitter,
            respect_retry_after_header=True,
            # Hand back the last 429/5xx so the caller can report the status it ended on.
            raise_on_status=False,
        )


def is_transient(status: int | None) -> bool:
    """True when a failure with this HTTP status (None: no answer at all) may heal on a later
    try; everything else is permanent and fails at once."""
    return status is None or status in RETRY_STATUSES or status in CONFLICT_STATUSES


class RateLimiter:
    """A token bucket: at most `rate` requests per second, bursts up to `burst`.

    The default burst is one request: requests are spaced 1/rate apart, so no second ever
    holds more than the budget. A bucket a second deep would let a fresh or idle client send
    twice the rate in its first second, and a SIS counting a sliding second answers 429.
    """

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate = rate
        self.capacity = burst
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait until one request may start."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            time.sleep(wait)


@dataclass
class Budget:
    """One district's shared budget: a rate limiter and a cap on requests in flight."""

    limiter: RateLimiter
    in_flight: threading.BoundedSemaphore

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one in-flight slot and one rate token for the length of a request."""
        with self.in_flight:
            self.limiter.acquire()
            yield


_BUDGETS: dict[tuple[str, float, int], Budget] = {}
_BUDGETS_LOCK = threading.Lock()


def budget_for(district: str, requests_per_second: float, max_concurrency: int) -> Budget:
    """The process-wide budget of a district (shared by every client of that district)."""
    key = (district, requests_per_second, max_concurrency)
    with _BUDGETS_LOCK:
        if key not in _BUDGETS:
            # A burst of one second's worth at most, so the first second is not a spike.
            _BUDGETS[key] = Budget(RateLimiter(requests_per_second),
                                   threading.BoundedSemaphore(max_concurrency))
        return _BUDGETS[key]


@dataclass
class RequestStats:
    """What a load cost: requests sent (retries included), pages read, retries, 401 renewals."""

    requests: int = 0
    pages: int = 0
    retries: int = 0
    token_renewals: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, *, requests: int = 0, pages: int = 0, retries: int = 0,
              token_renewals: int = 0) -> None:
        """Add to the counters (thread-safe)."""
        with self._lock:
            self.requests += requests
            self.pages += pages
            self.retries += retries
            self.token_renewals += token_renewals

    @property
    def seconds(self) -> float:
        """Seconds since the counters started."""
        return time.monotonic() - self.started


# Query parameters that carry credentials or signatures: never shown in a message.
_SENSITIVE = ("oauth_", "access_token", "client_secret", "token")


def redact_url(url: str) -> str:
    """The URL with credential-bearing query parameters masked, safe for logs and errors."""
    parts = urlsplit(url)
    query = [(k, "***" if k.lower().startswith(_SENSITIVE) else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="'<>=:")))
