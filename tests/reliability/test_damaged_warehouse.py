"""A truncated or corrupt warehouse fails at once with a permanent error naming the file; a lock
held by another process is still waited for.

Before, a truncated file spun for over 300 s: dagster-duckdb's open retried every IOException
for ~100 s, then the step's retry policy ran it twice more, and the top message was DuckDB's
"Current transaction is aborted".
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipeline.resources import Warehouse
from pipeline.warehouse import WarehouseDamaged, connect, transaction
from tests.reliability.helpers import Workspace, write_report
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run


def _warehouse(path: Path, rows: int = 200_000) -> Path:
    with connect(path) as conn:
        conn.execute("CREATE TABLE passback.grades AS SELECT range AS n, md5(range::VARCHAR) "
                     f"AS digest FROM range({rows})")
    return path


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _corrupt_a_block(path: Path) -> None:
    data = bytearray(path.read_bytes())
    start = len(data) // 3 // 4096 * 4096
    data[start:start + 262_144] = b"\xff" * 262_144
    path.write_bytes(bytes(data))


def _assert_clear(error: WarehouseDamaged, path: Path) -> None:
    message = str(error)
    assert str(path) in message and "damaged" in message
    assert "Restore it from a backup, or move it aside" in message
    assert error.allow_retries is False  # Dagster's step retry policy skips it


@pytest.mark.parametrize("keep", [0.0, 0.01, 0.5, 0.99])
def test_a_truncated_warehouse_fails_at_once(tmp_path: Path, keep: float) -> None:
    path = _warehouse(tmp_path / "warehouse.duckdb")
    _truncate(path, keep)
    for opening in (lambda: connect(path), lambda: connect(path, read_only=True),
                    lambda: Warehouse(database=str(path)).get_connection()):
        started = time.monotonic()
        with pytest.raises(WarehouseDamaged) as raised, opening():
            pass
        assert time.monotonic() - started < 5
        _assert_clear(raised.value, path)


def test_a_corrupt_block_found_mid_transaction_names_the_file(tmp_path: Path) -> None:
    path = _warehouse(tmp_path / "warehouse.duckdb")
    _corrupt_a_block(path)
    with pytest.raises(WarehouseDamaged) as raised, connect(path) as conn, transaction(conn):
        conn.execute("SELECT max(digest) FROM passback.grades").fetchall()
    _assert_clear(raised.value, path)
    # The same damage seen only through DuckDB's follow-up "Current transaction is aborted".
    with pytest.raises(WarehouseDamaged) as raised, connect(path) as conn:
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute("SELECT max(digest) FROM passback.grades").fetchall()
        except duckdb.Error:
            conn.execute("SELECT count(*) FROM passback.sync_ledger")
    assert "Current transaction is aborted" in str(raised.value.__cause__)
    _assert_clear(raised.value, path)


def test_other_errors_are_not_called_damage(tmp_path: Path) -> None:
    path = _warehouse(tmp_path / "warehouse.duckdb", rows=10)
    with pytest.raises(duckdb.CatalogException), connect(path) as conn:
        conn.execute("SELECT * FROM passback.no_such_table")
    # Another DuckDB file, truncated, is that file's problem, not the warehouse's.
    other = _warehouse(tmp_path / "other.duckdb", rows=10)
    _truncate(other)
    with connect(path) as conn, pytest.raises(duckdb.Error) as raised:
        conn.execute(f"ATTACH '{other}' AS other")
    assert not isinstance(raised.value, WarehouseDamaged)
    assert "other.duckdb" in str(raised.value)


def test_a_lock_held_by_another_process_is_waited_for(tmp_path: Path) -> None:
    path = _warehouse(tmp_path / "warehouse.duckdb", rows=10)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(2); c.close()", str(path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with Warehouse(database=str(path)).get_connection() as conn:
            assert conn.execute("SELECT count(*) FROM passback.grades").fetchone() == (10,)
        assert time.monotonic() - started > 0.5  # it waited for the holder, then opened
    finally:
        holder.wait(timeout=30)


def test_a_run_on_a_truncated_warehouse_stops_at_once_and_says_why(workspace: Workspace
                                                                   ) -> None:
    with SandboxSIS(workspace.generated.oneroster_dir, profile="oneroster",
                    credentials=workspace.credentials,
                    closed_grading_periods=workspace.generated.closed_grading_periods) as sis:
        workspace.point_at(sis.url)
        workspace.warehouse.parent.mkdir(parents=True, mode=0o700)
        _warehouse(workspace.warehouse, rows=50_000)
        _truncate(workspace.warehouse, keep=0.02)
        with pytest.raises(duckdb.Error), duckdb.connect(str(workspace.warehouse)):
            pass  # the file is damaged as far as DuckDB itself is concerned
        started = time.monotonic()
        finished = workspace.run(timeout=120)
        elapsed = time.monotonic() - started
    assert finished.returncode != 0, finished.tail()
    instance = dg.DagsterInstance.from_config(str(workspace.dagster_home))
    failures, retries = [], 0
    for run in instance.get_runs():
        for event in instance.all_logs(run.run_id):
            if event.dagster_event is None:
                continue
            if event.dagster_event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY:
                retries += 1
            if event.dagster_event.event_type == dg.DagsterEventType.STEP_FAILURE:
                failures.append(event.dagster_event.step_failure_data.error.message)
    write_report("damaged_warehouse", [
        f"- injected: the warehouse truncated to 2% of its bytes; run took {elapsed:.1f} s, "
        f"exit {finished.returncode}, {retries} step retries",
        f"- {len(failures)} step failures, the first: {failures[:1]}"])
    assert retries == 0
    assert failures and all(str(workspace.warehouse) in message and "damaged" in message
                            for message in failures), failures
    assert elapsed < 60, elapsed
