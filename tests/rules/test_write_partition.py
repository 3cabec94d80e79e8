"""Writing a partition: one transaction, rolled back whole when sourcedIds would repeat."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from assets.transform import rules_run
from assets.transform.rules_run import compute_partition, write_partition
from tests.rules.helpers import World, run_rules

TABLES = ("line_items", "results", "rejections", "rule_stats")


def tables(conn: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """Every passback table the rules write, in a stable order."""
    return {t: conn.sql(f"SELECT * FROM passback.{t} ORDER BY ALL").to_arrow_table().to_pandas()
            for t in TABLES}


def test_duplicate_sourced_ids_leave_the_previous_run_whole(
        world: World, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_rules(world, db)
    with duckdb.connect(str(db)) as conn:
        before = tables(conn)
        run = compute_partition(conn, world.settings(date(2026, 10, 8)), "gp1")
        # Pretend the insert produced two rows per sourcedId: the check runs inside the write.
        monkeypatch.setattr(rules_run, "DUPLICATES_SQL", "SELECT 2, $district, $gp")
        assert write_partition(conn, run, "duplicated-run") == 2
        after = tables(conn)
        # Nothing is left registered or open on the connection.
        assert conn.execute("SELECT count(*) FROM duckdb_views() WHERE view_name LIKE 'run_%'"
                            ).fetchall() == [(0,)]
        conn.execute("BEGIN TRANSACTION")
        conn.execute("ROLLBACK")
    for name in TABLES:
        pd.testing.assert_frame_equal(after[name], before[name])
    assert len(before["line_items"]) == 1
