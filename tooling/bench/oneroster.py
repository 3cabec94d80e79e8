"""How fast the client pulls enrollments from a sandbox process seeded by the generator.

    python -m tooling.bench.oneroster --students 20000

Prints pages/s and rows/s for the client (concurrent pages within the district's budget),
and for a bare `requests` loop over the same pages with no paging logic, no flattening and
no concurrency: the sandbox's own sequential pace, to show the client is not the bottleneck.
The sandbox runs as its own process, as a remote SIS would: in-process, the client's parsing
and the server would share one GIL and the figures would measure that contention.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import requests

from pipeline.config import DistrictConfig, load_district_file
from pipeline.oneroster.client import OneRosterClient
from tooling.bench.harness import Sandbox, point_at_sandbox, sandbox_process
from tooling.sandbox import SandboxCredentials

# `python -m tooling.sandbox` serves its demo credentials unless told otherwise.
CREDENTIALS = SandboxCredentials()


def _district(generated_yaml: Path, sis: Sandbox, concurrency: int) -> DistrictConfig:
    """The generated district file, pointed at the running sandbox, with its secrets set."""
    os.environ.update(point_at_sandbox(generated_yaml, sis, concurrency=concurrency))
    return load_district_file(generated_yaml)


def bench_client(config: DistrictConfig, page_size: int) -> tuple[int, int, float]:
    """(rows, pages, seconds) for the client's extract of enrollments."""
    with OneRosterClient(config, page_size=page_size) as client:
        started = time.perf_counter()
        extract = client.extract("enrollments")
        seconds = time.perf_counter() - started
    return extract.rows.num_rows, extract.stats.pages, seconds


def bench_bare(sis: Sandbox, version: str, page_size: int) -> tuple[int, int, float]:
    """(rows, pages, seconds) for sequential bare GETs of every page (OAuth 2 bearer)."""
    token = requests.post(sis.token_url, data={"grant_type": "client_credentials"},
                          auth=(CREDENTIALS.client_id, CREDENTIALS.client_secret),
                          timeout=30).json()["access_token"]
    suffix = "/v1p1" if version == "1.1" else "/rostering/v1p2"
    base = f"{sis.root}/ims/oneroster{suffix}"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    rows = pages = offset = 0
    started = time.perf_counter()
    while True:
        body = session.get(f"{base}/enrollments", params={"limit": page_size, "offset": offset},
                           timeout=60).json()
        pages += 1
        got = len(body["enrollments"])
        rows += got
        offset += got
        if got == 0 or got < page_size:
            break
    return rows, pages, time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    """Generate a district, serve it, and print the figures."""
    from tooling.generate import generate_district

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--profile", default="infinite_campus")
    parser.add_argument("--version", default="1.2", choices=("1.1", "1.2"))
    parser.add_argument("--auth", default="oauth2", choices=("oauth1", "oauth2"))
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="passback-bench-") as tmp:
        started = time.perf_counter()
        generated = generate_district(Path(tmp), students=args.students, profile=args.profile,
                                      oneroster_version=args.version, auth=args.auth)
        print(f"generated {args.students} students in {time.perf_counter() - started:.1f}s")
        with sandbox_process(generated.oneroster_dir, args.profile) as sis:
            config = _district(generated.mapping_file, sis, args.concurrency)
            bench_client(config, args.page_size)  # warm up: token, connections, rendering
            for label, (rows, pages, seconds) in (
                    (f"client (concurrency {args.concurrency})",
                     bench_client(config, args.page_size)),
                    ("bare sequential GETs", bench_bare(sis, args.version, args.page_size))):
                print(f"{label:<28} {rows:>8} rows {pages:>5} pages {seconds:7.2f}s "
                      f"{pages / seconds:8.1f} pages/s {rows / seconds:10.0f} rows/s")


if __name__ == "__main__":
    main()
