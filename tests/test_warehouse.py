"""The warehouse: raw tables derived from their sources, pinned column for column."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipeline.oneroster.endpoints import ENDPOINTS
from pipeline.otus.contract import ENTITIES
from pipeline.warehouse import connect, duckdb_type, ensure_schema, transaction

REPO = Path(__file__).resolve().parents[1]

# The raw tables as they were when their DDL was written by hand. Derived now, they must not
# change by accident: a new or retyped column in a source shows up here and in review.
RAW_TABLES: dict[str, str] = {
    "otus.users": "district VARCHAR NOT NULL, user_id VARCHAR NOT NULL, sis_sourced_id VARCHAR,"
    " role VARCHAR NOT NULL, given_name VARCHAR, family_name VARCHAR, email VARCHAR",
    "otus.passback_group": "district VARCHAR NOT NULL, user_id VARCHAR NOT NULL,"
    " added_at TIMESTAMPTZ NOT NULL",
    "otus.assessments": "district VARCHAR NOT NULL, assessment_id VARCHAR NOT NULL,"
    " title VARCHAR NOT NULL, assessment_type VARCHAR NOT NULL,"
    " grading_method VARCHAR NOT NULL, points_possible DOUBLE,"
    " include_in_final_grade BOOLEAN NOT NULL, created_by VARCHAR NOT NULL,"
    " updated_at TIMESTAMPTZ NOT NULL, deleted_at TIMESTAMPTZ",
    "otus.class_assignments": "district VARCHAR NOT NULL, assignment_id VARCHAR NOT NULL,"
    " assessment_id VARCHAR NOT NULL, class_sourced_id VARCHAR NOT NULL,"
    " assigned_by VARCHAR NOT NULL, assigned_at TIMESTAMPTZ NOT NULL, go_live_at TIMESTAMPTZ,"
    " due_at TIMESTAMPTZ, updated_at TIMESTAMPTZ NOT NULL, deleted_at TIMESTAMPTZ",
    "otus.scores": "district VARCHAR NOT NULL, assignment_id VARCHAR NOT NULL,"
    " student_sourced_id VARCHAR NOT NULL, status VARCHAR NOT NULL, points_earned DOUBLE,"
    " excluded BOOLEAN NOT NULL, late BOOLEAN, missing BOOLEAN, graded_at TIMESTAMPTZ,"
    " comment VARCHAR, updated_at TIMESTAMPTZ NOT NULL",
}
_SIS_COMMON = ("district VARCHAR NOT NULL, sourced_id VARCHAR NOT NULL, status VARCHAR,"
               " date_last_modified TIMESTAMPTZ, ")
RAW_TABLES |= {f"sis.{name}": _SIS_COMMON + columns for name, columns in {
    "orgs": "name VARCHAR, type VARCHAR, identifier VARCHAR, parent_sourced_id VARCHAR",
    "academic_sessions": "title VARCHAR, type VARCHAR, start_date DATE, end_date DATE,"
    " parent_sourced_id VARCHAR, school_year VARCHAR, grading_window_open BOOLEAN",
    "courses": "title VARCHAR, course_code VARCHAR, school_year_sourced_id VARCHAR,"
    " org_sourced_id VARCHAR",
    "classes": "title VARCHAR, class_code VARCHAR, class_type VARCHAR,"
    " course_sourced_id VARCHAR, school_sourced_id VARCHAR, term_sourced_ids VARCHAR[]",
    "users": "enabled_user BOOLEAN, username VARCHAR, given_name VARCHAR, family_name VARCHAR,"
    " role VARCHAR, email VARCHAR, org_sourced_ids VARCHAR[]",
    "enrollments": "class_sourced_id VARCHAR, school_sourced_id VARCHAR,"
    " user_sourced_id VARCHAR, role VARCHAR, primary BOOLEAN, begin_date DATE, end_date DATE",
    "categories": "title VARCHAR",
    "line_items": "title VARCHAR, description VARCHAR, assign_date DATE, due_date DATE,"
    " class_sourced_id VARCHAR, category_sourced_id VARCHAR,"
    " grading_period_sourced_id VARCHAR, result_value_min DOUBLE, result_value_max DOUBLE",
    "results": "line_item_sourced_id VARCHAR, student_sourced_id VARCHAR,"
    " class_sourced_id VARCHAR, score_status VARCHAR, score DOUBLE, score_date DATE,"
    " comment VARCHAR",
}.items()}
# Tables of the raw schemas that are not derived from a source.
NOT_DERIVED = {"sis.quarantine"}


@pytest.fixture()
def conn() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    ensure_schema(connection)
    return connection


def described(conn: duckdb.DuckDBPyConnection, table: str) -> str:
    """A table's columns as DESCRIBE sees them, written like the DDL."""
    columns = conn.execute(f"DESCRIBE {table}").fetchall()
    return ", ".join(
        f"{name} {kind.replace('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ')}"
        f"{' NOT NULL' if null == 'NO' else ''}" for name, kind, null, *_ in columns)


@pytest.mark.parametrize("table", sorted(RAW_TABLES))
def test_raw_table_keeps_its_columns(conn: duckdb.DuckDBPyConnection, table: str) -> None:
    assert described(conn, table) == RAW_TABLES[table]


def test_every_raw_table_is_pinned(conn: duckdb.DuckDBPyConnection) -> None:
    tables = {f"{schema}.{name}" for schema, name in conn.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE schema_name IN ('otus', 'sis')").fetchall()}
    assert tables - NOT_DERIVED == set(RAW_TABLES)


def test_raw_tables_follow_their_sources(conn: duckdb.DuckDBPyConnection) -> None:
    """The columns come from the contract and the endpoint table, in their order."""
    for name, entity in ENTITIES.items():
        columns = [row[0] for row in conn.execute(f"DESCRIBE otus.{name}").fetchall()]
        assert columns == ["district", *entity.columns]
    for name, ep in ENDPOINTS.items():
        columns = [row[0] for row in conn.execute(f"DESCRIBE sis.{name}").fetchall()]
        assert columns == ep.arrow_schema.names


def test_unmapped_arrow_type_is_named() -> None:
    assert duckdb_type(pa.list_(pa.date32())) == "DATE[]"
    with pytest.raises(TypeError, match="int8"):
        duckdb_type(pa.int8())


def test_sources_do_not_import_the_warehouse() -> None:
    """The warehouse imports the contract and the endpoint table, never the other way."""
    code = ("import sys, pipeline.oneroster, pipeline.otus; "
            "sys.exit('pipeline.warehouse' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture()
def warehouse_file(tmp_path: Path) -> Path:
    """A warehouse file with one committed row."""
    path = tmp_path / "transactions.duckdb"
    with connect(path) as conn:
        conn.execute("CREATE TABLE passback.notes (note VARCHAR)")
        conn.execute("INSERT INTO passback.notes VALUES ('before')")
    return path


def notes(path: Path) -> list[str]:
    """The rows a new connection sees."""
    with connect(path, read_only=True) as conn:
        return [row[0] for row in conn.execute("SELECT note FROM passback.notes ORDER BY note")
                .fetchall()]


def test_transaction_commits_for_a_new_connection(warehouse_file: Path) -> None:
    with connect(warehouse_file) as conn, transaction(conn):
        conn.execute("DELETE FROM passback.notes")
        conn.execute("INSERT INTO passback.notes VALUES ('after')")
    assert notes(warehouse_file) == ["after"]


@pytest.mark.parametrize("error", [RuntimeError("mid-load"), KeyboardInterrupt()])
def test_transaction_rolls_back_on_any_exception(warehouse_file: Path,
                                                 error: BaseException) -> None:
    with connect(warehouse_file) as conn:
        with pytest.raises(type(error)), transaction(conn):
            conn.execute("DELETE FROM passback.notes")
            conn.execute("INSERT INTO passback.notes VALUES ('half')")
            raise error
        # The connection is left outside any transaction: the next one starts cleanly.
        with transaction(conn):
            conn.execute("INSERT INTO passback.notes VALUES ('next')")
    assert notes(warehouse_file) == ["before", "next"]


def test_a_failed_rollback_does_not_hide_the_error(warehouse_file: Path) -> None:
    with connect(warehouse_file) as conn, pytest.raises(ValueError) as caught, \
            transaction(conn):
        conn.execute("ROLLBACK")  # the transaction ends early, so the helper's ROLLBACK fails
        raise ValueError("the real problem")
    assert "rollback failed too" in " ".join(caught.value.__notes__)
