"""The contract's reading rules as DuckDB SQL: how a staged value becomes its typed value.

The pandas functions in `contract` (`parse_timestamps`, `parse_booleans`, `parse_decimals`)
state the same rules for a frame; tests/extract/test_otus_sql.py holds the two to the same
answers. A staged column is either text (CSV, JSON lines, a Parquet string) or a value a
Parquet file already carries typed (BOOLEAN, DOUBLE, TIMESTAMP WITH TIME ZONE...): a typed
one is used as it is, never printed and parsed again.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from pipeline.otus.contract import _OFFSET, TRUE_VALUES, Field, sql_literal

# The ISO 8601 forms a timestamp may take: a date, or a date and hh:mm[:ss[.fff]], then for a
# time an optional offset (`Z`, `+02:00`, `+0200`, `+02`). Single-digit month, day and hour
# are read too, and a lower-case `z` or a decimal comma are not: as pandas read them before
# the reader moved into DuckDB.
_FORM = (r"^\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
         r"(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$")
TEXT = "VARCHAR"
# A Parquet column of one of these types is already the field's value.
NATIVE = {"boolean": {"BOOLEAN"},
          "decimal": {"DOUBLE", "FLOAT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT",
                      "HUGEINT", "UINTEGER", "UBIGINT", "USMALLINT", "UTINYINT"},
          "timestamp": {"TIMESTAMP WITH TIME ZONE", "TIMESTAMP", "TIMESTAMP_NS",
                        "TIMESTAMP_MS", "TIMESTAMP_S", "DATE"}}
TYPES = {"string": "VARCHAR", "enum": "VARCHAR", "boolean": "BOOLEAN", "decimal": "DOUBLE",
         "timestamp": "TIMESTAMPTZ"}


def is_native(field: Field, source_type: str) -> bool:
    """Whether a staged column of `source_type` already holds the field's typed value."""
    return source_type.split("(")[0] in NATIVE.get(field.kind, set())


def define_macros(conn: duckdb.DuckDBPyConnection, zone: str) -> None:
    """`otus_timestamp(text)` and `otus_local(timestamp)` on a connection (session zone UTC).

    A timestamp without an offset is wall-clock time in the district's zone. A wall time that
    happens twice (autumn) is the first occurrence; one that never happens (spring) is moved
    forward to the end of the gap, as pandas' `nonexistent="shift_forward"` does. The two
    readings around a change are the wall time under the offset a day before and a day after;
    whichever maps back to the same wall time is real (both: the earlier). Neither means the
    time fell in a gap: that rare case goes to a Python function.
    """
    conn.execute("SET TimeZone = 'UTC'")
    zone_sql = sql_literal(zone)
    conn.create_function("otus_shift_forward", _shift_forward_in(zone),
                         ["TIMESTAMP"], "TIMESTAMPTZ", null_handling="special",
                         side_effects=False)
    wall = f"timezone({zone_sql}, {{t}})"
    offset = f"({wall} - CAST({{t}} AS TIMESTAMP))"  # the zone's offset at instant t
    # ts read with the offset in force a day before it, and a day after it.
    before, after = (
        f"CAST(ts - {offset.format(t=f'(CAST(ts AS TIMESTAMPTZ) {sign} INTERVAL 1 DAY)')} "
        "AS TIMESTAMPTZ)" for sign in "-+")
    conn.execute(f"""CREATE OR REPLACE TEMP MACRO otus_pick(ts, b, a) AS
        CASE WHEN ts IS NULL THEN NULL
             WHEN {wall.format(t='b')} = ts AND {wall.format(t='a')} = ts THEN least(b, a)
             WHEN {wall.format(t='b')} = ts THEN b
             WHEN {wall.format(t='a')} = ts THEN a
             ELSE otus_shift_forward(ts) END""")
    conn.execute(f"CREATE OR REPLACE TEMP MACRO otus_local(ts) AS otus_pick(ts, {before}, {after})")
    conn.execute(f"""CREATE OR REPLACE TEMP MACRO otus_timestamp(t) AS
        CASE WHEN NOT regexp_full_match(t, {sql_literal(_FORM)}) THEN NULL
             WHEN regexp_matches(t, {sql_literal(_OFFSET)})
                 THEN TRY_CAST(t AS TIMESTAMPTZ)
             ELSE otus_local(TRY_CAST(t AS TIMESTAMP)) END""")


def _shift_forward_in(zone: str):  # noqa: ANN202 (a DuckDB UDF)
    def shift_forward(wall: datetime | None) -> datetime | None:
        if wall is None:
            return None
        moved = pd.Timestamp(wall).tz_localize(zone, nonexistent="shift_forward",
                                               ambiguous=True)
        return moved.tz_convert("UTC").to_pydatetime()
    return shift_forward


def typed_sql(field: Field, column: str, source_type: str) -> str:
    """The SQL of a staged column's typed value (a checked column: bad values are gone)."""
    value = f'"{column}"'
    if field.kind in ("string", "enum"):
        return value if source_type == TEXT else f"CAST({value} AS VARCHAR)"
    if is_native(field, source_type):
        if field.kind == "timestamp" and not source_type.startswith("TIMESTAMP WITH"):
            return f"otus_local(CAST({value} AS TIMESTAMP))"  # naive: the district's wall time
        return f"CAST({value} AS {TYPES[field.kind]})"
    text = value if source_type == TEXT else f"CAST({value} AS VARCHAR)"
    if field.kind == "boolean":
        listed = ", ".join(sql_literal(v) for v in TRUE_VALUES)
        return f"CASE WHEN {text} IS NOT NULL THEN lower({text}) IN ({listed}) END"
    if field.kind == "decimal":
        return f"TRY_CAST({text} AS DOUBLE)"
    return f"otus_timestamp({text})"


def check_sql(statistics: dict[str, str], field: Field, column: str, source_type: str,
              ) -> str | None:
    """A pandera check's SQL predicate (true: the value passes) for a staged column; None when
    a natively typed value passes by its type."""
    value = f'"{column}"'
    if is_native(field, source_type):
        native = statistics.get("native_sql")
        return native.format(value=value) if native else None
    text = value if source_type == TEXT else f"CAST({value} AS VARCHAR)"
    return statistics["text_sql"].format(value=text)
