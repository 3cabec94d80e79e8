"""Fixtures for the sandbox SIS tests: a small district bundle and running sandboxes.

Every test talks to a real sandbox over HTTP on loopback; nothing is mocked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.helpers import district_tables
from tooling.sandbox import SandboxSIS
from tooling.sandbox.bundle import write_bundle


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The district as a OneRoster 1.1 CSV bundle on disk."""
    return write_bundle(tmp_path_factory.mktemp("district"), district_tables())


@pytest.fixture(scope="module")
def sis(bundle: Path) -> Iterator[SandboxSIS]:
    """A plain OneRoster sandbox shared by a module's tests (writes use unique ids)."""
    with SandboxSIS(bundle, closed_grading_periods=["gp-q1"]) as running:
        yield running


@pytest.fixture(scope="module")
def ic_sis(bundle: Path) -> Iterator[SandboxSIS]:
    """An Infinite Campus sandbox with Q1 closed."""
    with SandboxSIS(bundle, profile="infinite_campus", closed_grading_periods=["gp-q1"]) as s:
        yield s


@pytest.fixture(scope="module")
def skyward_sis(bundle: Path) -> Iterator[SandboxSIS]:
    """A Skyward sandbox with Q1 closed."""
    with SandboxSIS(bundle, profile="skyward", closed_grading_periods=["gp-q1"]) as s:
        yield s


