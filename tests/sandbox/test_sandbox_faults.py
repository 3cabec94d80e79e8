"""Fault injection: latency, server errors, rate limits, concurrency caps, drops, bursts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.sandbox.helpers import session_for
from tooling.sandbox import FaultSpec, SandboxSIS


@pytest.fixture(scope="module")
def faulty(bundle: Path) -> Iterator[SandboxSIS]:
    with SandboxSIS(bundle) as sis:
        yield sis


@pytest.fixture
def api(faulty: SandboxSIS) -> Iterator[requests.Session]:
    session = session_for(faulty)  # fetched before any fault is switched on
    yield session
    faulty.set_faults(None)


def statuses(sis: SandboxSIS, api: requests.Session, count: int) -> list[int]:
    return [api.get(f"{sis.rostering_url}/orgs").status_code for _ in range(count)]


@pytest.mark.slow
def test_latency(faulty: SandboxSIS, api: requests.Session) -> None:
    faulty.set_faults("latency_ms=60")
    started = time.perf_counter()
    assert api.get(f"{faulty.rostering_url}/orgs").status_code == 200
    assert time.perf_counter() - started >= 0.06


@pytest.mark.slow
def test_latency_is_a_response_time_shared_by_requests_in_flight(
        faulty: SandboxSIS, api: requests.Session) -> None:
    # Each request is answered 300 ms after it arrived, whatever else is in flight: five at
    # once take about 300 ms in all, not five times that, and none is answered early.
    faulty.set_faults("latency_ms=300")
    took: list[float] = []

    def one() -> None:
        started = time.perf_counter()
        assert api.get(f"{faulty.rostering_url}/orgs").status_code == 200
        took.append(time.perf_counter() - started)

    threads = [threading.Thread(target=one) for _ in range(5)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(took) == 5 and min(took) >= 0.3
    assert time.perf_counter() - started < 5 * 0.3


@pytest.mark.slow
def test_server_errors_are_deterministic_under_a_seed(faulty: SandboxSIS,
                                                      api: requests.Session) -> None:
    faulty.set_faults("seed=7,error_rate=0.4")
    first = statuses(faulty, api, 30)
    faulty.set_faults("seed=7,error_rate=0.4")
    assert statuses(faulty, api, 30) == first
    assert set(first) - {200} <= {500, 502, 503} and first.count(200) not in (0, 30)
    faulty.set_faults("seed=8,error_rate=0.4")
    assert statuses(faulty, api, 30) != first


@pytest.mark.slow
def test_error_bodies_are_imsx(faulty: SandboxSIS, api: requests.Session) -> None:
    faulty.set_faults("error_rate=1")
    v12 = api.get(f"{faulty.rostering_url}/orgs")
    assert v12.status_code in (500, 502, 503)
    assert v12.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0][
        "imsx_codeMinorFieldValue"] == "internal_server_error"
    v11 = api.get(f"{faulty.v1p1_url}/orgs").json()
    assert "imsx_messageRefIdentifier" in v11  # 1.1 requires it


@pytest.mark.slow
def test_requests_per_second_budget(faulty: SandboxSIS, api: requests.Session) -> None:
    faulty.set_faults("rps=5,retry_after_s=2")
    responses = [api.get(f"{faulty.rostering_url}/orgs") for _ in range(8)]
    throttled = [r for r in responses if r.status_code == 429]
    assert [r.status_code for r in responses[:5]] == [200] * 5 and len(throttled) == 3
    assert all(r.headers["Retry-After"] == "2" for r in throttled)
    time.sleep(1.05)  # the one-second window has moved on
    assert api.get(f"{faulty.rostering_url}/orgs").status_code == 200


@pytest.mark.slow
def test_concurrency_cap(faulty: SandboxSIS, api: requests.Session) -> None:
    faulty.set_faults("max_concurrency=2,latency_ms=300")
    codes: list[int] = []
    retry_after: list[str] = []

    def call() -> None:
        response = requests.get(f"{faulty.rostering_url}/orgs", timeout=5,
                                headers={"Authorization": api.headers["Authorization"]})
        codes.append(response.status_code)
        retry_after.append(response.headers.get("Retry-After", ""))

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200, 200, 429, 429, 429]
    assert retry_after.count("1") == 3


@pytest.mark.slow
def test_dropped_connections(faulty: SandboxSIS, api: requests.Session) -> None:
    faulty.set_faults("drop_rate=1")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{faulty.rostering_url}/orgs", timeout=5,
                     headers={"Authorization": api.headers["Authorization"]})
    assert faulty.request_log[-1][2] == 0  # logged without a status
    faulty.set_faults("seed=3,drop_rate=0.5")
    outcomes = []
    for _ in range(12):
        try:
            outcomes.append(requests.get(f"{faulty.rostering_url}/orgs", timeout=5, headers={
                "Authorization": api.headers["Authorization"]}).status_code)
        except requests.ConnectionError:
            outcomes.append(0)
    assert 0 in outcomes and 200 in outcomes


@pytest.mark.slow
def test_429_bursts(faulty: SandboxSIS, api: requests.Session) -> None:
    faulty.set_faults("burst_429=3")
    assert statuses(faulty, api, 5) == [429, 429, 429, 200, 200]
    faulty.set_faults("burst_429=2,burst_every=4")
    assert statuses(faulty, api, 8) == [429, 429, 200, 200] * 2


@pytest.mark.slow
def test_request_log_counts_requests(faulty: SandboxSIS, api: requests.Session) -> None:
    before = len(faulty.request_log)
    api.get(f"{faulty.rostering_url}/classes/cls-alg")
    api.get(f"{faulty.rostering_url}/classes/nope")
    assert [tuple(e) for e in faulty.request_log[before:]] == [
        ("GET", "/ims/oneroster/rostering/v1p2/classes/cls-alg", 200),
        ("GET", "/ims/oneroster/rostering/v1p2/classes/nope", 404)]


def test_fault_spec_parsing() -> None:
    spec = FaultSpec.parse("seed=7,latency_ms=20,error_rate=0.1,rps=50,max_concurrency=5,"
                           "token_ttl_s=60,drop_rate=0.02")
    assert (spec.seed, spec.latency_ms, spec.rps, spec.max_concurrency) == (7, 20.0, 50.0, 5)
    assert FaultSpec.parse(spec.to_text()) == spec
    assert FaultSpec.parse("") == FaultSpec()
    for bad in ("speed=3", "error_rate=2", "rps=fast", "latency_ms", "token_ttl_s=0"):
        with pytest.raises(ValueError):
            FaultSpec.parse(bad)


@pytest.mark.slow
def test_stop_frees_the_port(bundle: Path) -> None:
    sis = SandboxSIS(bundle)
    with sis:
        api = session_for(sis)  # leaves a keep-alive connection open across the stop
        assert api.get(f"{sis.rostering_url}/orgs").status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sis.rostering_url}/orgs", timeout=2)
    with SandboxSIS(bundle, port=sis.port) as again:  # the same port binds again at once
        assert again.port == sis.port
        assert session_for(again).get(f"{again.rostering_url}/orgs").status_code == 200
