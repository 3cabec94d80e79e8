"""The warning check: a rule's failure rate jumping against the previous run."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from checks.asset_checks import rate_changes, rate_jump_result
from tests.rules.helpers import World, run_rules

pytestmark = pytest.mark.slow  # takes more than ~2 s


def _trend(db: Path) -> tuple[bool, str]:
    with duckdb.connect(str(db)) as conn:
        result = rate_jump_result(rate_changes(conn, "demo", "gp1"))
    return result.passed, result.description or ""


def test_rate_jump_warns_and_a_steady_rate_does_not(world: World, db: Path) -> None:
    run_rules(world, db)
    assert _trend(db)[0], "a first run has nothing to compare with"
    run_rules(world, db)
    assert _trend(db)[0], "same data, same rates"
    with duckdb.connect(str(db)) as conn:
        conn.execute("UPDATE otus.scores SET excluded = TRUE")
    run_rules(world, db)
    passed, description = _trend(db)
    assert not passed and "excluded_score: 0.0% -> 100.0%" in description
