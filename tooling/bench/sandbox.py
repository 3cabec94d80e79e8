"""Benchmark: is the sandbox ever the bottleneck? Prints PUT/s and big-page latency.

Run ``python -m tooling.bench.sandbox``. It starts the sandbox as its own
process (``python -m tooling.sandbox``, no faults, as a data engineer runs it)
over a synthetic district, PUTs results from a few client threads with
keep-alive sessions, then times one 10,000-enrollment page. Server and client
share the machine; `--in-process` runs the server inside the client process
instead (one GIL for both, so expect a lower figure).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tooling.sandbox import SandboxCredentials, SandboxSIS
from tooling.sandbox.bundle import synthetic_district, write_bundle

# The sandbox checks `format: uri` on references (as a strict SIS does); it ignores their value.
HREF = "https://sis.example/bench"


@dataclass(frozen=True)
class Target:
    """Where the benchmark sends requests."""

    gradebook_url: str
    rostering_url: str
    token_url: str
    client_id: str
    client_secret: str
    pid: int | None = None  # the server process, when it is not this one


def server_cpu_seconds(pid: int | None) -> float | None:
    """CPU time (user + system) used so far by a process, from /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def subprocess_sandbox(data: Path, state: Path) -> Iterator[Target]:
    """Run `python -m tooling.sandbox` and yield its URLs once it prints them."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tooling.sandbox", "--data", str(data), "--state", str(state)],
        stdout=subprocess.PIPE, text=True)
    try:
        urls = {}
        assert process.stdout is not None
        for line in process.stdout:
            label, _, value = line.partition(": ")
            urls[label.strip()] = value.strip()
            if label.strip() == "faults":
                break
        creds = SandboxCredentials.from_env()
        yield Target(urls["OneRoster 1.2 gradebook"], urls["OneRoster 1.2 rostering"],
                     urls["OAuth 2 token URL"], creds.client_id, creds.client_secret,
                     process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def in_process_sandbox(data: Path, state: Path) -> Iterator[Target]:
    """Run the sandbox in this process (server and client share one GIL)."""
    with SandboxSIS(data, state_path=state) as sis:
        yield Target(sis.gradebook_url, sis.rostering_url, sis.token_url,
                     sis.credentials.client_id, sis.credentials.client_secret)


def _token(target: Target) -> str:
    response = requests.post(target.token_url, data={"grant_type": "client_credentials"},
                             auth=(target.client_id, target.client_secret), timeout=10)
    response.raise_for_status()
    return response.json()["access_token"]


def _line_item(target: Target, session: requests.Session) -> None:
    body = {"lineItem": {
        "sourcedId": "bench-li", "status": "active", "dateLastModified": "2026-09-01T00:00:00Z",
        "title": "Bench quiz", "assignDate": "2026-09-01T00:00:00Z",
        "dueDate": "2026-09-08T00:00:00Z",
        "class": {"href": HREF, "sourcedId": "class-0", "type": "class"},
        "school": {"href": HREF, "sourcedId": "school", "type": "org"},
        "category": {"href": HREF, "sourcedId": "cat", "type": "category"},
        "resultValueMin": 0, "resultValueMax": 10}}
    session.put(f"{target.gradebook_url}/lineItems/bench-li", json=body, timeout=10)\
        .raise_for_status()


def bench_puts(target: Target, token: str, total: int, threads: int, users: list[str]
               ) -> float:
    """PUT `total` results from `threads` keep-alive clients; return PUTs per second.

    The clients use http.client rather than requests: requests spends more CPU per
    call than the sandbox does, and on two cores the benchmark would measure itself.
    """
    parsed = urlsplit(target.gradebook_url)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    errors: list[int] = []

    def worker(offset: int) -> None:
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        for n in range(offset, total, threads):
            body = {"result": {
                "sourcedId": f"r-{n}", "status": "active",
                "dateLastModified": "2026-09-02T00:00:00Z",
                "lineItem": {"href": HREF, "sourcedId": "bench-li", "type": "lineItem"},
                "student": {"href": HREF, "sourcedId": users[n % len(users)], "type": "user"},
                "scoreStatus": "fully graded", "score": n % 10, "scoreDate": "2026-09-02"}}
            connection.request("PUT", f"{parsed.path}/results/r-{n}",
                               json.dumps(body).encode(), headers)
            response = connection.getresponse()
            response.read()
            if response.status != 201:
                errors.append(response.status)
        connection.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} PUTs failed, e.g. HTTP {errors[0]}")
    return total / elapsed


def bench_page(target: Target, token: str, size: int, repeats: int) -> list[float]:
    """Seconds to fetch and parse one page of `size` enrollments, `repeats` times."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = session.get(f"{target.rostering_url}/enrollments", params={"limit": size},
                               timeout=30)
        count = len(response.json()["enrollments"])
        timings.append(time.perf_counter() - started)
        if count != size:
            raise RuntimeError(f"page held {count} enrollments, expected {size}")
    return timings


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m tooling.bench.sandbox")
    parser.add_argument("--puts", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--page", type=int, default=10_000)
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args(argv)
    sandbox = in_process_sandbox if args.in_process else subprocess_sandbox
    classes = 40
    with tempfile.TemporaryDirectory() as scratch:
        data = write_bundle(Path(scratch) / "district", synthetic_district(args.page, classes))
        with sandbox(data, Path(scratch) / "state.jsonl") as target:
            token = _token(target)
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            _line_item(target, session)
            # synthetic_district puts student n in class n % classes; the line item is class-0's.
            users = [f"student-{n}" for n in range(0, args.page, classes)]
            cpu_before = server_cpu_seconds(target.pid) if target.pid else None
            rate = bench_puts(target, token, args.puts, args.threads, users)
            print(f"PUT results: {args.puts} in {args.threads} threads -> {rate:,.0f} PUT/s")
            cpu_after = server_cpu_seconds(target.pid) if target.pid else None
            if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
                # Load from other processes slows the wall clock, not the server's CPU cost.
                per_put = (cpu_after - cpu_before) / args.puts
                print(f"server CPU per PUT: {per_put * 1e6:,.0f} us "
                      f"(one core sustains ~{1 / per_put:,.0f} PUT/s)")
            timings = bench_page(target, token, args.page, 5)
            print(f"GET {args.page:,} enrollments (one page, fetch + parse): "
                  f"median {statistics.median(timings) * 1000:.0f} ms, "
                  f"max {max(timings) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
