"""The sink stays within the district's budget and reports its progress."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.sink.helpers import Gradebook, district_config, sync, writes
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run


def test_concurrency_stays_within_the_budget(bundle: Path, credentials_env: None,
                                             gradebook: Gradebook) -> None:
    gradebook.add_line_items(6)
    gradebook.save()
    # The sandbox answers 429 to any request beyond 2 in flight: none may arrive.
    with SandboxSIS(bundle, faults="latency_ms=15,max_concurrency=2") as sis:
        report = sync(gradebook, district_config(sis, concurrency=2))
        assert report.counters.sent == 24
        assert [s for _, _, s in writes(sis) if s == 429] == []


def test_the_request_rate_stays_within_the_budget(bundle: Path, credentials_env: None,
                                                  gradebook: Gradebook) -> None:
    gradebook.add_line_items(10)
    gradebook.save()
    # The sandbox refuses (429) more than 25 requests in any one-second window.
    with SandboxSIS(bundle, faults="rps=25") as sis:
        started = time.monotonic()
        report = sync(gradebook, district_config(sis, rps=20))
        elapsed = time.monotonic() - started
        assert report.counters.sent == 40
        assert [s for _, _, s in writes(sis) if s == 429] == []
        assert elapsed >= 0.9  # 40 writes at 20 per second cannot finish in under a second


def test_progress_is_logged_at_a_steady_interval(bundle: Path, credentials_env: None,
                                                 gradebook: Gradebook) -> None:
    gradebook.add_line_items(6)
    gradebook.save()
    lines: list[str] = []
    with SandboxSIS(bundle, faults="latency_ms=40") as sis:
        sync(gradebook, district_config(sis, concurrency=2), log=lines.append,
             progress_interval=0.1)
    progress = [line for line in lines if "req/s" in line and "/24 (" in line]
    assert len(progress) >= 3
    assert progress[-1].startswith("sync finished: 24/24 (100%)")
    assert "refused 0, failed 0" in progress[-1]
