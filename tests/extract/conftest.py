"""Fixtures for the extract tests: the district's OneRoster bundle, sandbox SIS instances
serving it on loopback (credentials exported to the environment), and a quick-retry
OneRoster resource. The names they build on live in helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.oneroster import OneRosterResource
from tests.extract.helpers import SECRET_ENV, roster_tables
from tooling.sandbox import SandboxSIS
from tooling.sandbox.bundle import write_bundle


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """The district's OneRoster CSV bundle."""
    return write_bundle(tmp_path / "oneroster", roster_tables())


@pytest.fixture
def sandbox_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start sandboxes (stopped after the test) and export their credentials to the env."""
    started: list[SandboxSIS] = []

    def start(profile: str = "infinite_campus", data_dir: Path | None = None,
              faults: str | None = None) -> SandboxSIS:
        data_dir = data_dir or write_bundle(tmp_path / f"oneroster-{len(started)}",
                                            roster_tables())
        sis = SandboxSIS(data_dir, profile=profile, faults=faults).start()
        started.append(sis)
        for field, env in SECRET_ENV.items():
            monkeypatch.setenv(env, getattr(sis.credentials, field))
        return sis

    yield start
    for sis in started:
        sis.stop()


@pytest.fixture
def fast_oneroster() -> OneRosterResource:
    """The resource with short backoffs so fault tests stay quick."""
    return OneRosterResource(page_size=10, max_retries=8, backoff_factor=0.01,
                             backoff_max_seconds=0.05, backoff_jitter=0.01)
