"""Deadlines for whole answers: one watchdog thread per process shuts the socket of a request
that is past its deadline, so a SIS trickling bytes (in the head or the body) cannot hold a
request for longer than the deadline, whatever the per-read timeout.

The transport watches each of its requests (transport.py). Token requests go through a
requests session whose connections are watched from the moment they connect
(`DeadlineHTTPConnection`); `watched()` collects the tickets of the connections a block
opened in this thread, so the caller can tell an answer cut short by the watchdog (which
can parse as a complete one) from a real one.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator

import urllib3.connection

_OPENED = threading.local()


class Watchdog:
    """One daemon thread per process that shuts the socket of a request past its deadline.

    `watch` and `done` cost a lock and a heap push per request; the thread sleeps until the
    earliest live deadline. Entries of finished requests are skipped (and pruned) lazily.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, socket.socket]] = []
        self._live: set[int] = set()
        self._tickets = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, sock: socket.socket, deadline: float) -> int:
        """Watch `sock` until `done`; returns the ticket to hand back."""
        with self._cond:
            ticket = next(self._tickets)
            if len(self._heap) > 2 * len(self._live) + 1024:  # mostly finished requests
                self._heap = [entry for entry in self._heap if entry[1] in self._live]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (deadline, ticket, sock))
            self._live.add(ticket)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sis-deadlines",
                                                daemon=True)
                self._thread.start()
            if self._heap[0][1] == ticket:
                self._cond.notify()
            return ticket

    def done(self, ticket: int) -> bool:
        """Stop watching; True when the deadline had already passed and the socket was shut."""
        with self._cond:
            if ticket in self._live:
                self._live.discard(ticket)
                return False
            return True

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._live:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, ticket, sock = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._live.discard(ticket)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once


WATCHDOG = Watchdog()


class _Deadline:
    """Mixed into a urllib3 connection: the watchdog shuts it `deadline` seconds after it
    connects."""

    deadline = 120.0
    sock: socket.socket

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _note(WATCHDOG.watch(self.sock, time.monotonic() + self.deadline))


class DeadlineHTTPConnection(_Deadline, urllib3.connection.HTTPConnection):
    """A plain-HTTP connection with a deadline."""


class DeadlineHTTPSConnection(_Deadline, urllib3.connection.HTTPSConnection):
    """The same, over TLS."""


def _note(ticket: int) -> None:
    opened = getattr(_OPENED, "tickets", None)
    if opened is not None:
        opened.append(ticket)


@contextlib.contextmanager
def watched() -> Iterator[list[int]]:
    """The tickets of the deadline connections this thread opens inside the block."""
    _OPENED.tickets = tickets = []
    try:
        yield tickets
    finally:
        _OPENED.tickets = None


def cut_short(tickets: list[int]) -> bool:
    """Whether the watchdog shut any of these connections (and stop watching the rest)."""
    return any([WATCHDOG.done(ticket) for ticket in tickets])
