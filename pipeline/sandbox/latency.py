"""Holding answers until a deadline, to within a tenth of a millisecond.

The event loop's own timers are a poor clock for an injected latency: uvloop (libuv) keeps
whole milliseconds and a time cached at the start of each loop turn, and asyncio rounds its
poll timeout up to the next millisecond, so `asyncio.sleep(0.020)` takes 20.3 ms on average
and a deadline set mid-turn lands later still. At five requests in flight against a 20 ms SIS
that error alone is 2-5% of the throughput being measured. One thread per sandbox waits on
`threading.Condition` (nanosecond timeouts) for the earliest deadline and wakes the loop that
asked, which measured 20.01-20.09 ms median for a 20 ms hold (`python -m pipeline.sink.bench`).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import threading
import time


class DeadlineTimer:
    """Awaitable holds until a `time.monotonic()` deadline, for any number of event loops."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, asyncio.AbstractEventLoop, asyncio.Future]] = []
        self._order = itertools.count()  # ties keep arrival order; futures never compare
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    async def hold_until(self, deadline: float) -> None:
        """Return at `deadline` (at once if it has passed or the timer is closed)."""
        if deadline <= time.monotonic() or self._closed:
            return
        loop = asyncio.get_running_loop()
        woken = loop.create_future()
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sandbox-latency",
                                                daemon=True)
                self._thread.start()
            heapq.heappush(self._due, (deadline, next(self._order), loop, woken))
            self._changed.notify()
        await woken

    def close(self) -> None:
        """Wake every hold now and stop the thread."""
        with self._changed:
            self._closed = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        with self._changed:
            while True:
                if self._closed:
                    while self._due:
                        _wake(*heapq.heappop(self._due)[2:])
                    return
                if not self._due:
                    self._changed.wait()
                    continue
                wait = self._due[0][0] - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                _wake(*heapq.heappop(self._due)[2:])


def _wake(loop: asyncio.AbstractEventLoop, woken: asyncio.Future) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody is waiting
        loop.call_soon_threadsafe(_resolve, woken)


def _resolve(woken: asyncio.Future) -> None:
    if not woken.done():  # a cancelled request (client gone) leaves a cancelled future
        woken.set_result(None)
