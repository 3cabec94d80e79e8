"""The SQL records and their v3 hashes: the record is the builder's, key for key and type for
type, and the hash changes exactly when the record does (it is computed from the values, not
from the record's text)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest

from pipeline.oneroster.references import Hrefs
from pipeline.sink.payloads import (
    HASH_PREFIX,
    LINE_ITEMS,
    RESULTS,
    PayloadBuilder,
    hash_sql,
    record_sql,
)
from pipeline.warehouse import ensure_schema

ZONE = "America/Chicago"
STAMP = "2026-11-02T03:04:05.678Z"
LINE_ITEM = {"district": "d", "grading_period_sourced_id": "gp-1", "sourced_id": "li-1",
             "assignment_id": "a-1", "assessment_id": "m-1", "class_sourced_id": "class-1",
             "school_sourced_id": "school-1", "teacher_user_id": "t-1",
             "title": 'Quiz "1" é', "description": "", "assign_date": date(2026, 3, 8),
             "due_date": date(2026, 11, 1), "category_sourced_id": "cat-1",
             "result_value_min": None, "result_value_max": 12.5, "status": "active"}
RESULT = {"district": "d", "grading_period_sourced_id": "gp-1", "sourced_id": "r-1",
          "line_item_sourced_id": "li-1", "assignment_id": "a-1", "class_sourced_id": "class-1",
          "student_sourced_id": "s-1", "score": 0.1 + 0.2, "score_status": "fully graded",
          "score_date": date(2026, 10, 20), "missing_is_zero": False, "status": "active"}
# Changes of a row: (column, new value). Some change the record, some do not.
CHANGES = {
    LINE_ITEMS: [("title", "Quiz 2"), ("description", "Read"), ("description", None),
                 ("assign_date", date(2026, 3, 9)), ("due_date", date(2026, 11, 2)),
                 ("class_sourced_id", "class-2"), ("school_sourced_id", None),
                 ("school_sourced_id", ""), ("category_sourced_id", "cat-2"),
                 ("result_value_min", 0.0), ("result_value_min", 1.0),
                 ("result_value_max", 12.0), ("status", ""), ("status", "tobedeleted"),
                 ("assignment_id", "a-2"), ("teacher_user_id", None)],
    RESULTS: [("score", 0.3), ("score", 7.0), ("score_status", ""), ("score_status", "exempt"),
              ("score_date", date(2026, 10, 21)), ("student_sourced_id", "s-2"),
              ("line_item_sourced_id", "li-2"), ("class_sourced_id", "class-2"),
              ("class_sourced_id", ""), ("status", "tobedeleted"), ("assignment_id", "a-2"),
              ("missing_is_zero", True)],
}


def _sql(conn: duckdb.DuckDBPyConnection, entity: str, version: str,
         row: dict[str, Any]) -> tuple[dict[str, Any], str]:
    conn.execute(f"DELETE FROM passback.{entity}")
    conn.execute(f"INSERT INTO passback.{entity} BY NAME SELECT * FROM (SELECT "
                 + ", ".join(f"${name} AS {name}" for name in row)
                 + ", now() AS updated_at, DATE '2026-11-02' AS as_of, now() AS computed_at)",
                 row)
    body, digest = conn.execute(f"SELECT {record_sql(entity, version, ZONE, STAMP)}, "
                                f"{hash_sql(entity, version, ZONE)} FROM passback.{entity} a"
                                ).fetchone()
    return json.loads(body), digest


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize("entity", [LINE_ITEMS, RESULTS])
def test_records_are_the_builders_and_hashes_change_with_them(entity: str, version: str) -> None:
    builder = PayloadBuilder(version, Hrefs("https://r", "https://g"), ZoneInfo(ZONE), STAMP)
    base = LINE_ITEM if entity == LINE_ITEMS else RESULT
    with duckdb.connect() as conn:
        ensure_schema(conn)
        record, digest = _sql(conn, entity, version, base)
        assert digest.startswith(HASH_PREFIX)
        expected = builder.content(entity, base)
        assert json.dumps(record) == json.dumps(expected)  # key order and float types too
        changed = 0
        for column, value in CHANGES[entity]:
            row = base | {column: value}
            other, other_digest = _sql(conn, entity, version, row)
            assert json.dumps(other) == json.dumps(builder.content(entity, row)), column
            same = other == record
            assert (other_digest == digest) == same, (column, value)
            changed += not same
    assert 0 < changed < len(CHANGES[entity])  # both kinds of change were tried
