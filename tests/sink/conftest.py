"""Fixtures for the sink: the sandbox's OneRoster bundle, its credentials in the environment,
an empty gradebook in a fresh warehouse, and a running sandbox. Names live in helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sink.helpers import ENV, Gradebook, district_config, mappings_for, roster_tables
from tooling.sandbox import SandboxSIS
from tooling.sandbox.bundle import write_bundle


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox's OneRoster CSV bundle (six students in two classes)."""
    return write_bundle(tmp_path_factory.mktemp("bundle"), roster_tables(6, 2))


@pytest.fixture
def credentials_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox's default credentials under the names the test districts use."""
    from tooling.sandbox import SandboxCredentials

    creds = SandboxCredentials()
    for name, value in (("key", creds.oauth1_key), ("secret", creds.oauth1_secret),
                        ("client_id", creds.client_id), ("client_secret", creds.client_secret),
                        ("vendor_key", creds.vendor_key), ("vendor_secret", creds.vendor_secret)):
        monkeypatch.setenv(ENV[name], value)


@pytest.fixture
def gradebook(tmp_path: Path) -> Gradebook:
    """An empty gradebook in a fresh warehouse."""
    return Gradebook(tmp_path / "warehouse.duckdb")


@pytest.fixture
def sandbox(bundle: Path, credentials_env: None) -> Iterator[SandboxSIS]:
    """A plain OneRoster sandbox on loopback, no faults."""
    with SandboxSIS(bundle, profile="oneroster") as sis:
        yield sis


@pytest.fixture
def cli(gradebook: Gradebook, sandbox: SandboxSIS, monkeypatch: pytest.MonkeyPatch) -> None:
    """The `passback` commands see the test district (on the sandbox) and its warehouse."""
    mappings = mappings_for(gradebook.path.parent / "mappings", district_config(sandbox))
    monkeypatch.setenv("PASSBACK_MAPPINGS_DIR", str(mappings))
    monkeypatch.setenv("PASSBACK_WAREHOUSE", str(gradebook.path))
