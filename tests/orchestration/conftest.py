"""A small generated district served by an in-process sandbox SIS, with the environment
(mappings folder, warehouse, credentials) pointed at it, for running the graph end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from tests.orchestration.helpers import DISTRICT, District
from tooling.demo import point_at_sandbox, sandbox_environment
from tooling.generate import generate_district
from tooling.sandbox import SandboxSIS


@pytest.fixture
def district(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[District]:
    """A ~60-student Infinite Campus district on a running sandbox."""
    generated = generate_district(tmp_path / "district", students=60, seed=11,
                                  profile="infinite_campus", district=DISTRICT)
    sis = SandboxSIS(generated.oneroster_dir, profile="infinite_campus",
                     closed_grading_periods=generated.closed_grading_periods)
    with sis:
        point_at_sandbox(generated.mapping_file, sis.url, sis.token_url)
        for name, value in sandbox_environment(DISTRICT, sis.credentials).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PASSBACK_MAPPINGS_DIR", str(generated.mapping_file.parent))
        yield District(generated, sis, tmp_path / "warehouse.duckdb")


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A throwaway Dagster instance (runs, event log, dynamic partitions)."""
    with dg.instance_for_test() as test_instance:
        yield test_instance
