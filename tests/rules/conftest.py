"""Fixtures for the rules tests: a fresh passing district and where its warehouse goes. The
builder (`World`, `run_rules`) lives in helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rules.helpers import World


@pytest.fixture
def world() -> World:
    """A fresh passing district."""
    return World()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where the test's warehouse file goes."""
    return tmp_path / "rules.duckdb"
