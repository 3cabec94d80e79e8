"""The sandbox's deadline timer: answers are held until their deadline, never released early."""

from __future__ import annotations

import asyncio
import threading
import time

from pipeline.sandbox.latency import DeadlineTimer


def test_holds_end_at_their_deadlines_in_deadline_order() -> None:
    timer = DeadlineTimer()
    woke: list[tuple[str, float, float]] = []

    async def hold(name: str, deadline: float) -> None:
        await timer.hold_until(deadline)
        woke.append((name, deadline, time.monotonic()))

    async def main() -> None:
        now = time.monotonic()
        # Pushed out of order: the heap, not the arrival order, decides who wakes first.
        await asyncio.gather(hold("late", now + 0.09), hold("early", now + 0.03),
                             hold("middle", now + 0.06))

    try:
        asyncio.run(main())
    finally:
        timer.close()
    assert [name for name, _, _ in woke] == ["early", "middle", "late"]
    assert all(at >= deadline for _, deadline, at in woke)  # never before the deadline


def test_a_passed_deadline_does_not_wait() -> None:
    timer = DeadlineTimer()
    started = time.monotonic()
    asyncio.run(timer.hold_until(started - 1.0))
    assert time.monotonic() - started < 0.5
    assert timer._thread is None  # nothing was held, so no thread was started
    timer.close()


def test_close_releases_holds_of_every_loop() -> None:
    timer = DeadlineTimer()
    released: list[float] = []
    holding = threading.Barrier(3)

    def loop_thread() -> None:
        async def hold() -> None:
            waiting = asyncio.ensure_future(timer.hold_until(time.monotonic() + 60))
            await asyncio.sleep(0.05)  # let the hold register with the timer thread
            holding.wait()
            await waiting
            released.append(time.monotonic())

        asyncio.run(hold())

    threads = [threading.Thread(target=loop_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    holding.wait()
    started = time.monotonic()
    timer.close()
    for thread in threads:
        thread.join(timeout=10)
    assert len(released) == 2 and all(at - started < 5 for at in released)
