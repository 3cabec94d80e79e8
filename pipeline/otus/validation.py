"""The contract's pandera schema, run as SQL inside DuckDB over a staged export file.

Walks the schema the contract builds (`contract.text_schema`): required columns, non-nullable
columns, each column check (its SQL is in the check's `statistics`) and the key's uniqueness,
so the contract is written once and pandera still states it. Every check is counted in one
scan of the staged table; only a failing check fetches its first rows. The lines say what
pandera's failure cases said before (`describe_failures`): file, column, check, first rows.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandera.pandas as pa

from pipeline.otus.contract import Entity
from pipeline.otus.sql import check_sql

MAX_ROWS_SHOWN = 5


def row_label(file_format: str, index: int) -> str:
    """Where a row is: CSV users open the file in an editor, so its line (header is line 1)."""
    return f"line {index + 2}" if file_format == "csv" else f"record {index + 1}"


def validate_staged(conn: duckdb.DuckDBPyConnection, table: str, entity: Entity,
                    location: str, file_format: str, schema: pa.DataFrameSchema,
                    types: dict[str, str]) -> list[str]:
    """Every contract violation in one staged file, one line per column and check.

    `types` maps each staged column to its DuckDB type; `_row` is the row's place in the file
    (0 first).
    """
    name = Path(location).name
    lines: list[str] = []
    missing = [c for c, column in schema.columns.items() if column.required and c not in types]
    if missing:
        lines.append(f"{name}: missing required column(s) {', '.join(map(repr, missing))}")
    probes = _probes(entity, schema, types)
    key = [k for k in (schema.unique or []) if k in types]
    key_hash = f"count(DISTINCT hash({', '.join(_quote(k) for k in key)}))" if key else "0"
    counted = [f"coalesce(count_if({bad}), 0)" for _, _, bad in probes]
    row = conn.execute(f"SELECT count(*), {key_hash}, {', '.join([*counted, '0'])} "
                       f"FROM {table}").fetchall()[0]
    for (column, what, bad), failing in zip(probes, row[2:], strict=False):
        if failing:
            shown = "; ".join(f"{row_label(file_format, i)} ({value!r})" for i, value in
                              conn.execute(f"SELECT _row, {_quote(column)} FROM {table} "
                                           f"WHERE {bad} ORDER BY _row LIMIT "
                                           f"{MAX_ROWS_SHOWN}").fetchall())
            lines.append(f"{name}: column {column!r} {what}; first offending rows: {shown}")
    # Distinct hashes prove distinct keys; fewer hashes than rows are looked at exactly.
    if key and len(key) == len(schema.unique or []) and row[1] < row[0]:
        lines += _duplicates(conn, table, key, name, file_format)
    return lines


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _probes(entity: Entity, schema: pa.DataFrameSchema, types: dict[str, str],
            ) -> list[tuple[str, str, str]]:
    """(column, what it must be, SQL true for a row that breaks it) per check of the schema."""
    fields = {f.name: f for f in entity.fields}
    probes = []
    for column_name, column in schema.columns.items():
        if column_name not in types:
            continue
        value = _quote(column_name)
        if not column.nullable:
            probes.append((column_name, "is required but empty", f"{value} IS NULL"))
        for check in column.checks:
            passes = check_sql(check.statistics, fields[column_name], column_name,
                               types[column_name])
            if passes is not None:  # ignore_na: an empty value is the nullable check's
                probes.append((column_name, f"must be {check.name}",
                               f"({value} IS NOT NULL AND NOT coalesce({passes}, false))"))
    return probes


def _duplicates(conn: duckdb.DuckDBPyConnection, table: str, key: list[str], name: str,
                file_format: str) -> list[str]:
    columns = ", ".join(_quote(k) for k in key)
    found = conn.execute(
        f"SELECT t._row, {', '.join(f't.{_quote(k)}' for k in key)} FROM {table} t "
        f"SEMI JOIN (SELECT {columns} FROM {table} GROUP BY ALL HAVING count(*) > 1) d "
        f"USING ({columns}) ORDER BY t._row LIMIT {MAX_ROWS_SHOWN}").fetchall()
    if not found:
        return []  # a hash collision, not a duplicate
    shown = "; ".join(f"{row_label(file_format, r[0])} ({', '.join(map(str, r[1:]))})"
                      for r in found)
    return [f"{name}: column(s) {', '.join(key)}: duplicate key; first offending rows: {shown}"]
