"""`SandboxSIS`: a sandbox running in-process on a free loopback port.

Uvicorn serves the app from a background thread with its own event loop. The
socket is bound before the thread starts, so `url` is known at once and port 0
works. A thin protocol subclass remembers each connection's transport so the
fault layer can drop a connection without answering, and stamps each request's arrival so
the injected latency is counted from the moment its bytes arrived.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pipeline.oneroster.spec import validators
from tooling.sandbox.app import GRADEBOOK, ROSTERING, V1P1, SandboxContext, error_response
from tooling.sandbox.auth import Authenticator, SandboxCredentials
from tooling.sandbox.errors import ImsxError
from tooling.sandbox.faults import FaultInjector, FaultSpec
from tooling.sandbox.formats import StrictValidators
from tooling.sandbox.gradebook import GradebookApi, GradebookService
from tooling.sandbox.profiles import get_profile
from tooling.sandbox.render import Bases
from tooling.sandbox.roster import Roster
from tooling.sandbox.rostering import render_views
from tooling.sandbox.routes import build_app
from tooling.sandbox.rules import GradebookRules
from tooling.sandbox.store import GradebookStore

# (server address, client address) of each open connection -> its transport; the pair is
# unique even when several in-process sandboxes serve the same client process.
_TRANSPORTS: dict[tuple[Any, Any], asyncio.Transport] = {}
ARRIVED = "passback.arrived"  # scope key: time.monotonic() when the request's bytes arrived


class _DroppableProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, plus a registry of transports keyed by client address."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Without this, keep-alive responses (headers and body written separately)
            # meet the client's delayed ACK and every request waits ~40 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _TRANSPORTS[(self.server, self.client)] = transport

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # The first byte of a request was just parsed: the latency is counted from here.
        self.scope[ARRIVED] = time.monotonic()  # type: ignore[literal-required]

    def connection_lost(self, exc: Exception | None) -> None:
        _TRANSPORTS.pop((self.server, self.client), None)
        super().connection_lost(exc)


class FaultLayer:
    """Pure ASGI wrapper: request log, throttling, injected errors, drops and latency.

    Latency is the SIS's response time: a request is handled when it arrives and its answer
    is held until `latency_ms` after arrival, as a SIS that takes that long per request would
    answer. Adding the delay on top of the sandbox's own handling instead made the benchmark
    measure the sandbox: on a 2-core VM, handling a request after a 20 ms idle costs 1.0-1.4
    ms, so even a raw-socket client could not pass 224 requests/s against "20 ms" at five in
    flight (docs/benchmarks.md). Error, throttle and drop answers are not delayed.
    """

    def __init__(self, app: Any, faults: FaultInjector, request_log: list) -> None:
        self.app = app
        self.faults = faults
        self.request_log = request_log
        # Off for a long-running CLI sandbox, where nobody reads the log and it would grow.
        self.log_requests = True

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = scope.get(ARRIVED) or time.monotonic()
        entry = [scope["method"], scope["path"], 0]
        if self.log_requests:
            self.request_log.append(entry)  # list.append is atomic: tests read it meanwhile

        async def logged_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                entry[2] = message["status"]
            await send(message)

        decision = self.faults.admit()
        if decision.verdict == "drop":
            entry[2] = 0  # no status: the client saw the connection close
            key = (tuple(scope.get("server") or ()), tuple(scope.get("client") or ()))
            transport = _TRANSPORTS.get(key)
            if transport is not None:
                transport.abort()
            return
        v1p2 = not scope["path"].startswith(V1P1)
        if decision.verdict != "serve":
            headers = {"Retry-After": str(self.faults.spec.retry_after_s)} \
                if decision.status == 429 else {}
            code = "server_busy" if decision.status == 429 else "internal_server_error"
            response = error_response(ImsxError(decision.status, code, decision.reason, headers),
                                      v1p2)
            await response(scope, receive, logged_send)
            return
        latency = self.faults.spec.latency_ms / 1000
        if latency:
            answer_at = arrived + latency

            async def held_send(message: dict) -> None:
                if message["type"] == "http.response.start":
                    # The loop's timers keep whole milliseconds and may wake a little early.
                    while (wait := answer_at - time.monotonic()) > 0:
                        await asyncio.sleep(wait)
                await logged_send(message)
        try:
            await self.app(scope, receive, held_send if latency else logged_send)
        finally:
            self.faults.release()


class SandboxSIS:
    """A OneRoster 1.1/1.2 SIS on loopback that behaves like Infinite Campus or Skyward.

    Use as a context manager: entering starts it on a free port in a background
    thread, leaving stops it and frees the port.
    """

    def __init__(self, data_dir: Path, profile: str = "oneroster",
                 closed_grading_periods: Iterable[str] = (),
                 faults: FaultSpec | str | None = None, state_path: Path | None = None,
                 credentials: SandboxCredentials | None = None, host: str = "127.0.0.1",
                 port: int = 0, bulk_writes: bool = True, allocate_ids: bool = False) -> None:
        self.profile = get_profile(profile)
        # Whether the 1.2 bulk POSTs are served, and whether they allocate the sandbox's own
        # sourcedIds (docs/sandbox.md, "1.2 bulk POSTs").
        self.bulk_writes = bulk_writes
        self.allocate_ids = allocate_ids
        self.roster = Roster.load(Path(data_dir))
        self.store = GradebookStore(self.roster, state_path)
        self.closed_grading_periods = frozenset(closed_grading_periods)
        self.credentials = credentials or SandboxCredentials.from_env()
        self._faults = FaultInjector(FaultSpec.coerce(faults))
        self.store.forget = self._faults.forget
        self.auth = Authenticator(self.credentials, lambda: self._faults.spec.token_ttl_s)
        self.request_log: list[list] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM,
                                     socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        # Listening now means connections queue until uvicorn accepts them, so the URL
        # printed or returned before serving starts is already usable.
        self._socket.listen(512)
        self.host, self.port = self._socket.getsockname()[:2]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = FaultLayer(build_app(self._context()), self._faults, self.request_log)

    # URLs
    @property
    def url(self) -> str:
        """Root URL, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    @property
    def v1p1_url(self) -> str:
        """Base of the OneRoster 1.1 services."""
        return f"{self.url}{V1P1}"

    @property
    def rostering_url(self) -> str:
        """Base of the OneRoster 1.2 rostering service."""
        return f"{self.url}{ROSTERING}"

    @property
    def gradebook_url(self) -> str:
        """Base of the OneRoster 1.2 gradebook service."""
        return f"{self.url}{GRADEBOOK}"

    @property
    def token_url(self) -> str:
        """OAuth 2 client-credentials token endpoint."""
        return f"{self.url}/oauth/token"

    # Runtime controls
    @property
    def faults(self) -> FaultSpec:
        """The fault spec in force."""
        return self._faults.spec

    def set_faults(self, faults: FaultSpec | str | None) -> None:
        """Replace the fault spec now (the random sequence restarts from its seed)."""
        self._faults.reset(FaultSpec.coerce(faults))

    def expire_tokens(self) -> None:
        """Invalidate every bearer token issued so far."""
        self.auth.expire_tokens()

    def _context(self) -> SandboxContext:
        rules = GradebookRules(self.roster, self.profile, self.closed_grading_periods,
                               self.store)
        window = rules.window_open if self.profile.exposes_grading_window else None
        v1p1_bases = Bases(self.v1p1_url, self.v1p1_url, v1p2=False)
        v1p2_bases = Bases(self.rostering_url, self.gradebook_url, v1p2=True)
        return SandboxContext(
            roster=self.roster, profile=self.profile, auth=self.auth,
            gradebook=GradebookApi(self.store, rules, allocate_ids=self.allocate_ids),
            services={"v1p1": GradebookService(StrictValidators(validators("v1p1")),
                                               v1p1_bases, False),
                      "v1p2": GradebookService(StrictValidators(validators("gradebook")),
                                               v1p2_bases, True)},
            roster_views={"v1p1": render_views(self.roster, v1p1_bases, window),
                          "v1p2": render_views(self.roster, v1p2_bases, window)},
            roster_validators={"v1p1": validators("v1p1"), "v1p2": validators("rostering")},
            url=self.url, bulk_writes=self.bulk_writes,
        )

    # Lifecycle
    def _config(self) -> uvicorn.Config:
        # loop="auto" picks uvloop when installed: a cheaper event loop per request.
        return uvicorn.Config(self.app, http=_DroppableProtocol, loop="auto",
                              lifespan="off", log_level="warning", access_log=False,
                              timeout_keep_alive=30, backlog=512,
                              # A client holding a slow request must not stall stop().
                              timeout_graceful_shutdown=2)

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the CLI's mode)."""
        self.app.log_requests = False
        self._server = uvicorn.Server(self._config())
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self.close()

    def start(self) -> SandboxSIS:
        """Start serving in a background thread; return once it accepts connections."""
        self._server = uvicorn.Server(self._config())
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._socket]},
                                        name=f"sandbox-sis-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox SIS did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving, wait for the thread, close the socket and the journal."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self.close()

    def close(self) -> None:
        """Release the listening socket and the state journal."""
        self._socket.close()
        self.store.close()

    def __enter__(self) -> SandboxSIS:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
