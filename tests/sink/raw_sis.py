"""A few lines of socket server on loopback, for the transport's edge cases (a connection closed
between requests, an answer that never comes, a redirect, a gzip body) that a well-behaved SIS
does not produce on demand."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace


def read_request(conn: socket.socket) -> bytes:
    """One request, headers and (Content-Length) body; returns the head (b"" once closed)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += conn.recv(65536)
    return head


def _handle(handle: Callable[[socket.socket], None], conn: socket.socket) -> None:
    with conn:
        handle(conn)


@contextmanager
def raw_sis(handle: Callable[[socket.socket], None]) -> Iterator[SimpleNamespace]:
    """A loopback server that passes each accepted connection to `handle` in its own thread."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen = SimpleNamespace(url=f"http://127.0.0.1:{port}", connections=0, requests=[],
                           token_url=f"http://127.0.0.1:{port}/oauth/token")
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            seen.connections += 1
            threading.Thread(target=_handle, args=(handle, conn), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def http_answer(status: int, body: bytes = b"{}", headers: dict[str, str] | None = None,
                ) -> bytes:
    """A whole HTTP/1.1 answer (keep-alive), JSON unless the headers say otherwise."""
    fields = {"Content-Type": "application/json", **(headers or {}),
              "Content-Length": str(len(body))}
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"HTTP/1.1 {status} Status\r\n{head}\r\n".encode() + body


def keep_alive(answer: Callable[[bytes], bytes], requests: list[bytes],
               ) -> Callable[[socket.socket], None]:
    """A connection handler that answers each request on the connection by `answer(head)`,
    recording every head in `requests`, until the client closes the connection."""
    def handle(conn: socket.socket) -> None:
        while head := read_request(conn):
            requests.append(head)
            conn.sendall(answer(head))
    return handle
