"""The shared rate limiter never lets a second hold more than the district's budget."""

from __future__ import annotations

import threading
import time

from pipeline.oneroster.policy import RateLimiter


def test_a_fresh_limiter_does_not_burst_past_the_rate() -> None:
    rate, window = 200.0, 0.5
    limiter = RateLimiter(rate)
    stamps: list[float] = []
    lock = threading.Lock()
    start = time.monotonic()

    def worker() -> None:
        while time.monotonic() - start < window:
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic() - start)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Spaced 1/rate apart from the first request: at most rate * window + 1 in the window.
    in_window = sum(1 for stamp in stamps if stamp <= window)
    assert in_window <= rate * window + 1, in_window
