"""Auth kinds and an unreliable SIS: everything is eventually written, exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pipeline.sink import run_sync
from tests.sink.helpers import (
    AS_OF,
    GP_FALL,
    Gradebook,
    connector,
    district_config,
    ledger,
    quick_client,
    quick_resource_writer,
    sync,
    writes,
)
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run


@pytest.mark.parametrize(("profile", "version", "auth"), [
    ("infinite_campus", "1.1", "oauth1"),
    ("infinite_campus", "1.2", "oauth2"),  # with the vendor header on gradebook calls
    ("skyward", "1.2", "oauth1"),
])
def test_auth_kinds(bundle: Path, credentials_env: None, gradebook: Gradebook, profile: str,
                    version: str, auth: str) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    with SandboxSIS(bundle, profile=profile) as sis:
        report = sync(gradebook, district_config(sis, profile=profile, version=version,
                                                 auth=auth))
        assert report.counters.sent == 8 and report.counters.failed == 0
        assert len(sis.store.results()) == 6


def test_the_resources_writer_is_the_sinks_writer(sandbox: SandboxSIS,
                                                  gradebook: Gradebook) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    config = district_config(sandbox, version="1.1", auth="oauth1")
    with quick_resource_writer(config) as client:
        report = run_sync(config, GP_FALL, client=client, connect=connector(gradebook.path),
                          as_of=AS_OF, lock_dir=gradebook.path.parent, log=lambda _: None)
    assert report.counters.sent == 8 and len(sandbox.store.results()) == 6


def test_an_expired_token_is_renewed_once(sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(1)
    gradebook.save()
    config = district_config(sandbox)
    with quick_client(config) as client:
        run_sync(config, GP_FALL, client=client, connect=connector(gradebook.path), as_of=AS_OF,
                 lock_dir=gradebook.path.parent, log=lambda _: None)
        gradebook.add_line_items(1)
        gradebook.save()
        sandbox.expire_tokens()  # the client's cached token is now refused with 401
        report = run_sync(config, GP_FALL, client=client, connect=connector(gradebook.path),
                          as_of=AS_OF, lock_dir=gradebook.path.parent, log=lambda _: None)

    assert report.counters.sent == 4 and report.counters.failed == 0
    assert report.token_renewals == 1
    assert sum(1 for m, p, s in sandbox.request_log if s == 401) >= 1


def test_server_errors_and_429_bursts_are_retried_until_written_once(
        bundle: Path, credentials_env: None, gradebook: Gradebook) -> None:
    gradebook.add_line_items(6)
    gradebook.save()
    with SandboxSIS(bundle, faults="seed=1,error_rate=0.1,burst_429=3,burst_every=15,"
                                   "retry_after_s=0") as sis:
        report = sync(gradebook, district_config(sis))
        assert report.counters.failed == 0 and report.counters.sent == 6 + 18
        assert report.counters.retries > 0
        attempts = writes(sis)
        assert any(status == 429 for _, _, status in attempts)
        assert any(status >= 500 for _, _, status in attempts)
        accepted = Counter(path for _, path, status in attempts if status in (200, 201, 204))
        assert len(accepted) == 24 and set(accepted.values()) == {1}  # each object once
        assert len(sis.store.results()) == 18
    assert {state for state, _, _ in ledger(gradebook.path).values()} == {"sent"}


def test_failures_after_every_retry_are_retried_on_the_next_run(
        bundle: Path, credentials_env: None, gradebook: Gradebook) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    with SandboxSIS(bundle, faults="error_rate=1.0") as sis:
        config = district_config(sis, auth="oauth1")  # OAuth 2 would fail at the token
        broken = sync(gradebook, config)
        assert broken.counters.failed == 2 and broken.counters.blocked == 6
        assert ledger(gradebook.path)["li-0000"][0] == "failed"
        sis.set_faults(None)
        healed = sync(gradebook, config)
    assert healed.counters.sent == 8
