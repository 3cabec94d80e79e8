"""Benchmark of the sink: `python -m tooling.bench.sink [--line-items N] [--students N]`.

Starts the sandbox SIS as its own process (`python -m tooling.sandbox`, answering each request
20 ms after it arrived, as a remote SIS would), fills a scratch warehouse with accepted line
items and results, and syncs them with a budget of 5 concurrent requests, so the ceiling is
5 / 0.020 s = 250 requests per second. Then it shows that a re-run sends nothing and that
changing k scores sends exactly k requests, and times a plain sequential `requests` loop over
the same records for comparison. That first sync is one PUT per record (`bulk_writes: off`);
`bulk_first_sync` (`--bulk`) syncs the same records to a fresh sandbox with OneRoster 1.2
bulk POSTs and reports requests per result and wall time.
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
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
SANDBOX_PID = 0  # the running sandbox process (for its peak memory)


@contextmanager
def sandbox_process(bundle: Path) -> Iterator[str]:
    """Run the sandbox in its own process; yield its root URL once it is serving."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tooling.sandbox", "--data", str(bundle), "--profile",
         "infinite_campus", "--faults", f"latency_ms={LATENCY_MS}"],
        stdout=subprocess.PIPE, text=True)
    global SANDBOX_PID
    SANDBOX_PID = process.pid
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


# Line item n is in class n % classes; every student of that class (s % classes) has a score.
_FILL_SQL = """
INSERT INTO passback.line_items BY NAME
SELECT $district AS district, $gp AS grading_period_sourced_id, 'active' AS status,
       now() AS updated_at, DATE '2026-11-02' AS as_of, now() AS computed_at,
       'li-' || n AS sourced_id, 'a-' || n AS assignment_id, 'm-' || n AS assessment_id,
       'class-' || (n % $classes) AS class_sourced_id, 'school' AS school_sourced_id,
       'Quiz ' || n AS title, DATE '2026-10-01' AS assign_date, DATE '2026-10-20' AS due_date,
       'cat' AS category_sourced_id, 0.0 AS result_value_min, 10.0 AS result_value_max
FROM range($line_items) t(n);
INSERT INTO passback.results BY NAME
SELECT $district AS district, $gp AS grading_period_sourced_id, 'active' AS status,
       now() AS updated_at, DATE '2026-11-02' AS as_of, now() AS computed_at,
       'r-' || n || '-' || s AS sourced_id, 'li-' || n AS line_item_sourced_id,
       'a-' || n AS assignment_id, 'class-' || (n % $classes) AS class_sourced_id,
       'student-' || s AS student_sourced_id, CAST(s % 10 AS DOUBLE) AS score,
       'fully graded' AS score_status, DATE '2026-10-20' AS score_date
FROM (SELECT n, n % $classes + j * $classes AS s
      FROM range($line_items) t(n), range($students // $classes + 1) u(j))
WHERE s < $students;
"""


def fill_warehouse(path: Path, line_items: int, students: int, classes: int) -> None:
    """Accepted line items spread over the classes, with a score for every enrolled student
    (built in DuckDB: a 50,000-student grading period is 3 million results)."""
    params = {"district": DISTRICT, "gp": GRADING_PERIOD, "classes": classes,
              "line_items": line_items, "students": students}
    with connect(path) as conn:
        for statement in _FILL_SQL.split(";")[:2]:
            conn.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})
        conn.execute("INSERT INTO sis.academic_sessions (district, sourced_id, type, "
                     "start_date, end_date) VALUES (?, ?, 'gradingPeriod', ?, ?)",
                     [DISTRICT, GRADING_PERIOD, date(2026, 8, 1), date(2027, 6, 30)])


def district(root: str, bulk_writes: str = "off") -> DistrictConfig:
    """An Infinite Campus 1.2 district (OAuth 2 and vendor header) on the sandbox; one PUT
    per record unless `bulk_writes` says otherwise."""
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
                "budget": {"max_concurrency": CONCURRENCY, "max_requests_per_second": 10_000},
                "bulk_writes": bulk_writes},
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


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident memory (Linux `VmHWM`), MiB; 0 where unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def bulk_first_sync(work: Path, bundle: Path, line_items: int, students: int,
                    classes: int) -> dict[str, Any]:
    """The first sync of the grading period by 1.2 bulk POSTs, to a fresh sandbox from a
    fresh warehouse: requests per result (goal <= 0.05) and wall time (plan included)."""
    warehouse = work / "bulk.duckdb"
    fill_warehouse(warehouse, line_items, students, classes)
    with sandbox_process(bundle) as root:
        config = district(root, bulk_writes="on")
        started = time.perf_counter()
        report = sync_once(config, warehouse)
        wall = time.perf_counter() - started
        rerun = sync_once(config, warehouse)
        sandbox_peak = peak_rss_mib(SANDBOX_PID)
    results = report.counters.sent - line_items
    return {"objects": report.counters.sent, "results": results, "requests": report.requests,
            "requests_per_result": report.requests / max(results, 1),
            "send_seconds": report.seconds, "wall_seconds": wall,
            "records_per_second": report.counters.sent / max(report.seconds, 1e-9),
            "failed": report.counters.failed, "refused": report.counters.refused,
            "write_mode": report.write_mode, "rerun_requests": rerun.requests,
            "sandbox_peak_rss_mib": sandbox_peak, "sink_peak_rss_mib": peak_rss_mib(os.getpid())}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--line-items", type=int, default=100)
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--classes", type=int, default=40)
    parser.add_argument("--changed", type=int, default=25, help="k scores changed")
    parser.add_argument("--baseline-records", type=int, default=400)
    parser.add_argument("--bare-records", type=int, default=1500)
    parser.add_argument("--bulk", action="store_true",
                        help="only the first sync by bulk POSTs (fresh sandbox and warehouse)")
    args = parser.parse_args(argv)
    if args.bulk:
        with tempfile.TemporaryDirectory(prefix="sink-bench-") as scratch:
            work = Path(scratch)
            bundle = write_bundle(work / "bundle",
                                  synthetic_district(args.students, args.classes))
            found = bulk_first_sync(work, bundle, args.line_items, args.students, args.classes)
        print(f"bulk first sync: {found['objects']} objects ({found['results']} results) in "
              f"{found['requests']} requests = {found['requests_per_result']:.4f} requests "
              f"per result; sent in {found['send_seconds']:.1f} s "
              f"({found['records_per_second']:.0f} records/s), {found['wall_seconds']:.1f} s "
              f"with planning; failed {found['failed']}, refused {found['refused']}; re-run "
              f"{found['rerun_requests']} requests; peak RSS sink "
              f"{found['sink_peak_rss_mib']:.0f} MiB, sandbox "
              f"{found['sandbox_peak_rss_mib']:.0f} MiB")
        ok = found["requests_per_result"] <= 0.05 and found["failed"] == 0
        print("PASS" if ok else "BELOW TARGET")
        return 0 if ok else 1
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
