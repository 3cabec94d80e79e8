"""Each Otus load records every entity's live rows (issue 17, item 2): a header-only file, or one
that marks every row deleted, is contract-valid, so the load remembers that the entity held
rows before and the sink's mass-change safeguard can hold the sync that follows."""

from __future__ import annotations

import copy
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from assets.extract.otus import record_load_counts
from pipeline.otus import stage_export
from pipeline.warehouse import ensure_schema
from tests.extract.helpers import DISTRICT, OTUS_ROWS, write_otus_export

CHICAGO = ZoneInfo("America/Chicago")


def header_only(folder: Path, entity: str) -> None:
    """Keep only the header line of an entity's CSV."""
    path = folder / f"{entity}.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")


def load(conn: duckdb.DuckDBPyConnection, folder: Path) -> list[str]:
    """Read the export from its files and record its counts, as the Otus asset does."""
    with stage_export(str(folder), CHICAGO, DISTRICT) as staged:
        return record_load_counts(conn, DISTRICT, staged.live_rows)


def counts(conn: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int | None]]:
    """entity -> (live rows now, live rows at the last non-empty load)."""
    return {e: (r, n) for e, r, n in conn.execute(
        "SELECT entity, rows, last_nonempty_rows FROM passback.otus_load_counts "
        "WHERE district = ?", [DISTRICT]).fetchall()}


def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A connection to a fresh warehouse file."""
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_schema(connection)
    return connection


@pytest.mark.parametrize("entity", ["class_assignments", "scores", "passback_group"])
def test_a_header_only_file_is_recorded_as_emptied(tmp_path: Path, entity: str) -> None:
    conn = warehouse(tmp_path)
    folder = write_otus_export(tmp_path / "otus")
    assert load(conn, folder) == []  # a first load empties nothing
    before = counts(conn)[entity][0]
    assert before > 0
    header_only(folder, entity)
    assert load(conn, folder) == [entity]
    assert counts(conn)[entity] == (0, before)
    # A second empty export still remembers: the next nightly run is held too.
    assert load(conn, folder) == [entity] and counts(conn)[entity] == (0, before)


def test_every_class_assignment_marked_deleted_empties_it(tmp_path: Path) -> None:
    conn = warehouse(tmp_path)
    assert load(conn, write_otus_export(tmp_path / "first")) == []
    rows = copy.deepcopy(OTUS_ROWS)
    for row in rows["class_assignments"]:
        row["deleted_at"] = "2026-10-21T12:00:00Z"
    assert load(conn, write_otus_export(tmp_path / "second", rows=rows)) == ["class_assignments"]
    assert counts(conn)["class_assignments"] == (0, len(rows["class_assignments"]))


def test_an_entity_that_never_held_rows_is_not_emptied(tmp_path: Path) -> None:
    conn = warehouse(tmp_path)
    folder = write_otus_export(tmp_path / "otus")
    header_only(folder, "passback_group")
    assert load(conn, folder) == [] and counts(conn)["passback_group"] == (0, None)
    assert load(conn, write_otus_export(tmp_path / "full")) == []
    assert counts(conn)["passback_group"][0] > 0
