"""Running a sync against a test warehouse and reading what reached the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import duckdb

from pipeline.config import DistrictConfig
from pipeline.sink import SyncReport, run_sync
from pipeline.warehouse import connect
from tests.sink.conftest import AS_OF, GP_FALL, Gradebook, quick_client
from tooling.sandbox import SandboxSIS


def connector(path: Path) -> Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]:
    """Short-lived connections to a test warehouse."""
    return lambda: connect(path)


def sync(gradebook: Gradebook, config: DistrictConfig, grading_period: str = GP_FALL,
         **options: Any) -> SyncReport:
    """One sync of a partition with a quick-retry client; the log goes to `options['log']`."""
    options.setdefault("log", lambda line: None)
    with quick_client(config) as client:
        return run_sync(config, grading_period, client=client,
                        connect=connector(gradebook.path), as_of=AS_OF,
                        lock_dir=gradebook.path.parent / "locks", **options)


def writes(sis: SandboxSIS, start: int = 0) -> list[tuple[str, str, int]]:
    """(method, path, status) of every gradebook write the sandbox saw since `start`."""
    return [(m, p, s) for m, p, s in sis.request_log[start:] if m in ("PUT", "DELETE")]


def ledger(path: Path) -> dict[str, tuple[str, int | None, str | None]]:
    """sourced_id -> (state, http_status, last_error) from the sync ledger."""
    with connect(path) as conn:
        rows = conn.execute("SELECT sourced_id, state, http_status, last_error "
                            "FROM passback.sync_ledger").fetchall()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}
