"""Fixtures shared by every test folder. Each folder keeps its own conftest for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes the developer's warehouse, reports or Dagster home."""
    monkeypatch.setenv("PASSBACK_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("PASSBACK_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
