"""Benchmark of the sink: `python -m tooling.bench.sink [--line-items N] [--students N]`.

Starts the sandbox SIS as its own process (`python -m tooling.sandbox`, answering each request
20 ms after it arrived, as a remote SIS would), fills a scratch warehouse with accepted line
items and results, and syncs them with a budget of 5 concurrent requests, so the ceiling is
5 / 0.020 s = 250 requests per second. Then it shows that a re-run sends nothing and that
changing k scores sends exactly k requests, and times a plain sequential `requests` loop over
the same records for comparison.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import requests

from pipeline.config import DistrictConfig
from pipeline.oneroster import OneRosterWriter
from pipeline.profiles import OTUS_ASSESSMENT_TYPES
from pipeline.sink import SyncReport, plan_sync, run_sync
from pipeline.sink.payloads import LINE_ITEMS, wrap
from pipeline.warehouse import connect
from tooling.sandbox import SandboxCredentials
from tooling.sandbox.bundle import synthetic_district, write_bundle

DISTRICT, GRADING_PERIOD = "bench", "gp"
CONCURRENCY, LATENCY_MS = 5, 20


@contextmanager
def sandbox_process(bundle: Path) -> Iterator[str]:
    """Run the sandbox in its own process; yield its root URL once it is serving."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tooling.sandbox", "--data", str(bundle), "--profile",
         "infinite_campus", "--faults", f"latency_ms={LATENCY_MS}"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            label, _, value = line.partition(":")
            if label.strip() == "OAuth 2 token URL":
                yield value.strip().removesuffix("/oauth/token")
                return
        raise RuntimeError("the sandbox did not start")
    finally:
        process.terminate()
        process.wait(timeout=10)


def fill_warehouse(path: Path, line_items: int, students: int, classes: int) -> None:
    """Accepted line items spread over the classes, with a score for every enrolled student."""
    now = datetime.now(UTC)
    common = {"district": DISTRICT, "grading_period_sourced_id": GRADING_PERIOD,
              "status": "active", "updated_at": now, "as_of": date(2026, 11, 2),
              "computed_at": now}
    li_rows, result_rows = [], []
    for n in range(line_items):
        klass = n % classes
        li_rows.append(common | {
            "sourced_id": f"li-{n}", "assignment_id": f"a-{n}", "assessment_id": f"m-{n}",
            "class_sourced_id": f"class-{klass}", "school_sourced_id": "school",
            "title": f"Quiz {n}", "assign_date": date(2026, 10, 1),
            "due_date": date(2026, 10, 20), "category_sourced_id": "cat",
            "result_value_min": 0.0, "result_value_max": 10.0})
        result_rows += [common | {
            "sourced_id": f"r-{n}-{s}", "line_item_sourced_id": f"li-{n}",
            "assignment_id": f"a-{n}", "class_sourced_id": f"class-{klass}",
            "student_sourced_id": f"student-{s}", "score": float(s % 10),
            "score_status": "fully graded", "score_date": date(2026, 10, 20)}
            for s in range(klass, students, classes)]
    with connect(path) as conn:
        for table, rows in (("passback.line_items", li_rows), ("passback.results", result_rows)):
            conn.register("frame", pd.DataFrame(rows))
            conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM frame")
            conn.unregister("frame")
        conn.execute("INSERT INTO sis.academic_sessions (district, sourced_id, type, "
                     "start_date, end_date) VALUES (?, ?, 'gradingPeriod', ?, ?)",
                     [DISTRICT, GRADING_PERIOD, date(2026, 8, 1), date(2027, 6, 30)])


def district(root: str) -> DistrictConfig:
    """An Infinite Campus 1.2 district (OAuth 2 and vendor header) on the sandbox."""
    creds = SandboxCredentials.from_env()
    for name, value in (("BENCH_CLIENT_ID", creds.client_id),
                        ("BENCH_CLIENT_SECRET", creds.client_secret),
                        ("BENCH_VENDOR_KEY", creds.vendor_key),
                        ("BENCH_VENDOR_SECRET", creds.vendor_secret)):
        os.environ.setdefault(name, value)
    return DistrictConfig.model_validate({
        "district": DISTRICT, "time_zone": "America/Chicago",
        "sis": {"profile": "infinite_campus", "oneroster_version": "1.2",
                "base_url": f"{root}/ims/oneroster",
                "auth": {"kind": "oauth2", "token_url": f"{root}/oauth/token",
                         "client_id_env": "BENCH_CLIENT_ID",
                         "client_secret_env": "BENCH_CLIENT_SECRET"},
                "vendor": {"key_env": "BENCH_VENDOR_KEY", "secret_env": "BENCH_VENDOR_SECRET"},
                # The rate limit is set out of the way: concurrency is what is measured.
                "budget": {"max_concurrency": CONCURRENCY, "max_requests_per_second": 10_000}},
        "passback": {"effective_date": "2026-08-01"},
        "categories": dict.fromkeys(OTUS_ASSESSMENT_TYPES, "cat"),
        "otus": {"export": "/nonexistent"}})


def sync_once(config: DistrictConfig, warehouse: Path) -> SyncReport:
    """One sync of the benchmark partition, quiet."""
    with OneRosterWriter(config) as client:
        return run_sync(config, GRADING_PERIOD, client=client, connect=lambda: connect(warehouse),
                        as_of=date(2026, 11, 2), lock_dir=warehouse.parent, log=lambda _: None,
                        run_id=f"bench-{time.monotonic_ns()}")


def read_back(config: DistrictConfig, warehouse: Path, *, full: bool) -> dict[str, Any]:
    """The extract's read of the SIS gradebook (line items and results), as the nightly job
    does it: what it fetched, in how many requests and seconds, full or incremental."""
    from assets.extract.sis import read_gradebook
    from pipeline.oneroster import OneRosterResource

    started = time.perf_counter()
    read = read_gradebook(config, full, lambda: connect(warehouse),
                          lambda: OneRosterResource().reader(config)).values()
    return {"mode": next(iter(read)).metadata["mode"],
            "rows": sum(r.metadata["fetched"].value for r in read),
            "requests": sum(r.metadata["requests"].value for r in read),
            "seconds": time.perf_counter() - started}


def _bodies(config: DistrictConfig, warehouse: Path, records: int) -> list[tuple[str, bytes]]:
    """(path, JSON body) of the first `records` planned writes: what the sync will send."""
    plan = plan_sync(config, GRADING_PERIOD, connect=lambda: connect(warehouse),
                     as_of=date(2026, 11, 2))
    base = urlsplit(config.sis.gradebook_base).path
    return [(f"{base}/{'lineItems' if a.entity == LINE_ITEMS else 'results'}/{a.sourced_id}",
             json.dumps(wrap(a.entity, a.record or {})).encode())
            for a in plan.actions if a.record is not None][:records]


def _headers(config: DistrictConfig) -> dict[str, str]:
    creds = SandboxCredentials.from_env()
    token = requests.post(config.sis.auth.token_url,  # type: ignore[union-attr]
                          data={"grant_type": "client_credentials"},
                          auth=(creds.client_id, creds.client_secret), timeout=10).json()
    return {"Authorization": f"Bearer {token['access_token']}", "Content-Type": "application/json",
            "x-vendor-authorization": f"{creds.vendor_key}:{creds.vendor_secret}"}


def sequential_loop(config: DistrictConfig, warehouse: Path, records: int) -> float:
    """Requests per second of a plain one-at-a-time `requests` loop over the same bodies (run
    before the sync, while every record is still planned)."""
    bodies, headers = _bodies(config, warehouse, records), _headers(config)
    root = config.sis.base_url.removesuffix("/ims/oneroster")
    with requests.Session() as session:
        started = time.perf_counter()
        for path, body in bodies:
            session.put(root + path, data=body, headers=headers, timeout=10)
    return len(bodies) / (time.perf_counter() - started)


def bare_parallel_loop(config: DistrictConfig, warehouse: Path, records: int) -> float:
    """Requests per second of 5 threads of bare `http.client` (no retries, budget, ledger):
    what this machine and sandbox allow right now, the reference for the sink's overhead."""
    bodies, headers = _bodies(config, warehouse, records), _headers(config)
    parts = urlsplit(config.sis.base_url)

    def send(share: list[tuple[str, bytes]]) -> None:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port)
        for path, body in share:
            conn.request("PUT", path, body=body, headers=headers)
            conn.getresponse().read()
        conn.close()

    threads = [threading.Thread(target=send, args=(bodies[n::CONCURRENCY],))
               for n in range(CONCURRENCY)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(bodies) / (time.perf_counter() - started)


def change_scores(warehouse: Path, k: int) -> None:
    """Change k accepted scores, as a rules run would after teachers regrade."""
    with connect(warehouse) as conn:
        conn.execute("UPDATE passback.results SET score = score + 0.5 WHERE sourced_id IN "
                     "(SELECT sourced_id FROM passback.results ORDER BY sourced_id LIMIT ?)", [k])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--line-items", type=int, default=100)
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--classes", type=int, default=40)
    parser.add_argument("--changed", type=int, default=25, help="k scores changed")
    parser.add_argument("--baseline-records", type=int, default=400)
    parser.add_argument("--bare-records", type=int, default=1500)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sink-bench-") as scratch:
        work = Path(scratch)
        bundle = write_bundle(work / "bundle", synthetic_district(args.students, args.classes))
        warehouse = work / "warehouse.duckdb"
        fill_warehouse(warehouse, args.line_items, args.students, args.classes)
        with sandbox_process(bundle) as root:
            config = district(root)
            ceiling = CONCURRENCY / (LATENCY_MS / 1000)
            baseline = sequential_loop(config, warehouse, args.baseline_records)
            bare = bare_parallel_loop(config, warehouse, args.bare_records)
            first = sync_once(config, warehouse)
            rerun = sync_once(config, warehouse)
            change_scores(warehouse, args.changed)
            changed = sync_once(config, warehouse)
        print(f"sandbox: answers in {LATENCY_MS} ms; budget: {CONCURRENCY} concurrent "
              f"-> ceiling {ceiling:.0f} req/s")
        print(f"first sync:   {first.counters.sent} objects, {first.requests} requests in "
              f"{first.seconds:.2f} s = {first.rate:.1f} req/s "
              f"({100 * first.rate / ceiling:.0f}% of the ceiling); "
              f"failed {first.counters.failed}, refused {first.counters.refused}")
        print(f"sequential `requests` loop over {args.baseline_records} of the same records: "
              f"{baseline:.1f} req/s")
        print(f"bare http.client, {CONCURRENCY} threads, {args.bare_records} of the same records "
              f"(this machine's ceiling now): {bare:.1f} req/s; the sink reaches "
              f"{100 * first.rate / bare:.0f}% of it")
        print(f"re-run, nothing changed: {rerun.requests} requests")
        print(f"re-run after changing k={args.changed} scores: {changed.counters.writes} PUTs "
              f"({changed.counters.sent} accepted) + "
              f"{changed.requests - changed.counters.writes} token request")
        ok = first.rate >= 0.9 * ceiling and rerun.requests == 0 and \
            changed.counters.writes == args.changed
        print("PASS" if ok else "BELOW TARGET")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
