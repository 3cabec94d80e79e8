"""The contract inside DuckDB (issue 15, item 3): the SQL reading rules give what the pandas
rules give, every class of contract failure is reported through the DuckDB path in every
format, and a Parquet file's own types are read without a detour through text."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.parquet as pq
import pytest

from pipeline.otus import ENTITIES, ExportContractError, read_export
from pipeline.otus.contract import (
    Field,
    parse_booleans,
    parse_decimals,
    parse_timestamps,
    text_schema,
)
from pipeline.otus.sql import define_macros, typed_sql
from tests.extract.helpers import DISTRICT, OTUS_ROWS, write_otus_export

CHICAGO = ZoneInfo("America/Chicago")
AUCKLAND = ZoneInfo("Pacific/Auckland")
TIMESTAMPS = [
    "2026-10-21T14:00:00Z", "2026-10-21T14:00:00z", "2026-10-21T14:00:00+02:00",
    "2026-10-21T14:00:00-0500", "2026-10-21T14:00-05", "2026-10-21 14:00:00.250+0000",
    "2026-10-21T14:00:00.123456Z", "2026-10-21", "2026-10-21T14:00", "2026-1-2",
    "2026-10-21T1:00:00", "2026-10-21T14:00:00.5", "2026-10-21T14:00:00.5+01",
    # Chicago: 01:30 happens twice on 2026-11-01 (the first is CDT); 02:30 on 2026-03-08
    # never happens (moved to 03:00 CDT). Auckland: 02:30 on 2026-09-27 never happens,
    # 02:30 on 2026-04-05 happens twice.
    "2026-11-01 01:30:00", "2026-11-01T01:00:00", "2026-11-01T02:00:00",
    "2026-03-08 02:30:00", "2026-03-08T02:00:00", "2026-03-08T03:00:00",
    "2026-09-27T02:30:00", "2026-04-05T02:30:00", "2026-04-05T03:00:00",
    "yesterday", "2026-13-01", "", "14:00",
]


def evaluate(conn: duckdb.DuckDBPyConnection, sql: str, values: list) -> list:
    """`sql` over column `v` of each value, in order."""
    return conn.execute(f"SELECT {sql} FROM (SELECT unnest(?) AS v, unnest(range(len(?))) "
                        "AS i) ORDER BY i", [values, values]).fetchall()


def sql_timestamps(values: list[str], zone: ZoneInfo) -> list[object]:
    conn = duckdb.connect()
    define_macros(conn, zone.key)
    rows = evaluate(conn, "otus_timestamp(nullif(v, ''))", values)
    return [pd.Timestamp(r[0]) if r[0] is not None else pd.NaT for r in rows]


@pytest.mark.parametrize("zone", [CHICAGO, AUCKLAND], ids=["chicago", "auckland"])
def test_sql_timestamps_read_as_pandas_did(zone: ZoneInfo) -> None:
    expected = parse_timestamps(pd.Series(TIMESTAMPS).replace("", None), zone)
    found = sql_timestamps(TIMESTAMPS, zone)
    for text, want, got in zip(TIMESTAMPS, expected, found, strict=True):
        assert (pd.isna(want) and pd.isna(got)) or want == got, (text, want, got)


def test_an_offset_after_a_space_is_refused_not_a_crash() -> None:
    # pandas raised "Mixed timezones detected" on it, outside the contract's error.
    assert sql_timestamps(["2026-10-21T14:00:00 +02:00"], CHICAGO) == [pd.NaT]


def test_sql_booleans_and_decimals_read_as_pandas_did() -> None:
    conn = duckdb.connect()
    texts = ["true", "False", "1", "0", "TRUE", None]
    sql = typed_sql(Field("v", "boolean", False), "v", "VARCHAR")
    expected = parse_booleans(pd.Series(texts, dtype="str")).tolist()
    assert [r[0] for r in evaluate(conn, sql, texts)] == \
        [None if pd.isna(e) else bool(e) for e in expected]
    decimals = ["4.5", "10", "-0.25", "1e3", None]
    sql = typed_sql(Field("v", "decimal", False), "v", "VARCHAR")
    expected = parse_decimals(pd.Series(decimals, dtype="str")).tolist()
    assert [r[0] for r in evaluate(conn, sql, decimals)] == \
        [None if pd.isna(e) else e for e in expected]


def failing(frame: pd.DataFrame, entity: str) -> set[tuple[str, str]]:
    """(column, check) pairs pandera's own pandas validation reports for a text frame."""
    try:
        text_schema(ENTITIES[entity], CHICAGO).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return {(str(c), str(k)) for c, k in exc.failure_cases[["column", "check"]]
                .itertuples(index=False)}
    return set()


def test_the_sql_path_and_pandera_refuse_the_same_things(tmp_path: Path) -> None:
    rows = copy.deepcopy(OTUS_ROWS)
    rows["assessments"][0].update(include_in_final_grade="yes", updated_at="yesterday",
                                  points_possible="ten", grading_method="letters",
                                  title="")
    frame = pd.DataFrame(rows["assessments"]).replace("", None)
    by_pandera = failing(frame, "assessments")
    assert by_pandera == {("include_in_final_grade", "true, false, 1 or 0"),
                          ("updated_at", "an ISO 8601 timestamp"),
                          ("points_possible", "a decimal number"),
                          ("grading_method", "one of ['points', 'standards']"),
                          ("title", "not_nullable")}
    with pytest.raises(ExportContractError) as err:
        read_export(str(write_otus_export(tmp_path, rows=rows)), CHICAGO, DISTRICT)
    text = "\n".join(err.value.problems)
    for column, check in by_pandera:
        what = "is required but empty" if check == "not_nullable" else f"must be {check}"
        assert f"assessments.csv: column {column!r} {what}; first offending rows: line 2" \
            in text


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_each_failure_class_names_file_column_and_rows(tmp_path: Path, fmt: str) -> None:
    rows = copy.deepcopy(OTUS_ROWS)
    for row in rows["passback_group"]:
        del row["added_at"]  # missing required column
    rows["users"][1]["role"] = "parent"  # bad enum
    rows["scores"][1]["excluded"] = "maybe"  # wrong type
    rows["scores"][2]["status"] = ""  # required but empty
    rows["class_assignments"].append(dict(rows["class_assignments"][0]))  # duplicate key
    with pytest.raises(ExportContractError) as err:
        read_export(str(write_otus_export(tmp_path, fmt, rows)), CHICAGO, DISTRICT)
    first, second, third = ("line 2", "line 3", "line 4") if fmt == "csv" else (
        "record 1", "record 2", "record 3")
    assert sorted(err.value.problems) == sorted([
        f"passback_group.{fmt}: missing required column(s) 'added_at'",
        f"users.{fmt}: column 'role' must be one of ['teacher', 'administrator', 'student']; "
        f"first offending rows: {second} ('parent')",
        f"scores.{fmt}: column 'excluded' must be true, false, 1 or 0; first offending "
        f"rows: {second} ('maybe')",
        f"scores.{fmt}: column 'status' is required but empty; first offending rows: "
        f"{third} (None)",
        f"class_assignments.{fmt}: column(s) assignment_id: duplicate key; first offending "
        f"rows: {first} (ca-1); {second} (ca-1)",
    ])
    assert "nothing was loaded" in str(err.value)


def typed_parquet(folder: Path, points: list[float]) -> None:
    """scores.parquet with the types a Parquet writer gives (as the generator writes)."""
    scores = OTUS_ROWS["scores"][:len(points)]
    table = pyarrow.table({
        "assignment_id": [s["assignment_id"] for s in scores],
        "student_sourced_id": [s["student_sourced_id"] for s in scores],
        "status": ["graded"] * len(points),
        "points_earned": pyarrow.array(points, pyarrow.float64()),
        "excluded": pyarrow.array([False, True][:len(points)], pyarrow.bool_()),
        "graded_at": pyarrow.array([datetime(2026, 9, 9, 12)] * len(points),
                                   pyarrow.timestamp("us")),  # naive: district wall time
        "updated_at": pyarrow.array([datetime(2026, 9, 9, 17)] * len(points),
                                    pyarrow.timestamp("us", tz="UTC")),
    })
    (folder / "scores.csv").unlink()
    pq.write_table(table, folder / "scores.parquet")


def test_parquet_types_are_read_as_they_are(tmp_path: Path) -> None:
    folder = write_otus_export(tmp_path)
    typed_parquet(folder, [4.5, 7.0])
    scores = read_export(str(folder), CHICAGO, DISTRICT).tables["scores"]
    assert scores["points_earned"].tolist() == [4.5, 7.0]
    assert scores["excluded"].tolist() == [False, True]
    # 12:00 naive in Chicago (CDT) is 17:00 UTC, the same instant as the aware column.
    assert (scores["graded_at"] == pd.Timestamp("2026-09-09T17:00:00Z")).all()
    assert (scores["updated_at"] == scores["graded_at"]).all()
    assert scores["late"].isna().all()  # an optional column the file does not have


def test_a_parquet_number_that_is_not_finite_is_refused(tmp_path: Path) -> None:
    folder = write_otus_export(tmp_path)
    typed_parquet(folder, [4.5, float("nan")])
    with pytest.raises(ExportContractError) as err:
        read_export(str(folder), CHICAGO, DISTRICT)
    assert err.value.problems == ["scores.parquet: column 'points_earned' must be a decimal "
                                  "number; first offending rows: record 2 (nan)"]
