"""The warehouse resource resolves its file when a connection opens, and reports sit beside it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from assets.transform.quality_report import report_folder
from pipeline.resources import Warehouse


def test_warehouse_follows_the_environment_after_creation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = Warehouse.default()
    monkeypatch.setenv("PASSBACK_WAREHOUSE", str(tmp_path / "later.duckdb"))
    with warehouse.get_connection() as conn:
        schemas = {row[0] for row in conn.execute(
            "SELECT schema_name FROM information_schema.schemata").fetchall()}
    assert {"otus", "sis", "passback"} <= schemas
    created = tmp_path / "later.duckdb"
    assert warehouse.path() == created and created.exists()
    assert stat.S_IMODE(created.stat().st_mode) == 0o600


def test_reports_default_to_beside_the_warehouse(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PASSBACK_REPORTS_DIR")
    monkeypatch.setenv("PASSBACK_WAREHOUSE", str(tmp_path / "wh" / "warehouse.duckdb"))
    folder = report_folder(str(Warehouse.default().path()), "demo", "sy2026-q2")
    assert folder == tmp_path / "wh" / "reports" / "demo" / "sy2026-q2"
