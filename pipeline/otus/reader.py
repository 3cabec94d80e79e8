"""Reading a district's Otus export: find each file, read it as text with DuckDB, validate the
whole export against the contract, and only then convert it to typed tables.

DuckDB does the reading, so the export may be a local folder or any location DuckDB reads
(http(s), s3...). Every file is checked before anything is returned: a caller that writes
the result can never half-load an export.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pandera.pandas as pa

from pipeline.otus.contract import ENTITIES, Entity, text_schema, typed

FORMATS = ("csv", "jsonl", "parquet")
MAX_ROWS_SHOWN = 5


class ExportContractError(ValueError):
    """The export breaks the contract; `problems` holds one line per file, column and check."""

    def __init__(self, location: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"the Otus export at {location} breaks the contract, nothing was "
                         "loaded:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class ExportFile:
    """One entity's file in the export."""

    entity: str
    location: str
    format: str


@dataclass(frozen=True)
class OtusExport:
    """A validated export: typed rows per entity and the file each came from."""

    tables: dict[str, pd.DataFrame]
    files: dict[str, ExportFile]


def locate(location: str, entity: str, conn: duckdb.DuckDBPyConnection) -> ExportFile:
    """The one file of an entity (`<entity>.csv|jsonl|parquet`); an error if none or several."""
    base = location.rstrip("/")
    candidates = [f"{base}/{entity}.{fmt}" for fmt in FORMATS]
    if "://" not in location:
        found = [c for c in candidates if Path(c).is_file()]
    elif location.startswith(("http://", "https://")):
        found = [c for c in candidates if _readable(conn, c)]  # http cannot be listed
    else:
        listed = {row[0] for row in conn.execute("SELECT file FROM glob(?)",
                                                 [f"{base}/{entity}.*"]).fetchall()}
        found = [c for c in candidates if c in listed]
    if not found:
        raise ExportContractError(location, [f"{entity}: no {entity}.csv, {entity}.jsonl or "
                                             f"{entity}.parquet in the export"])
    if len(found) > 1:
        names = ", ".join(Path(c).name for c in found)
        raise ExportContractError(location, [f"{entity}: several files ({names}); the "
                                             "contract allows exactly one per entity"])
    return ExportFile(entity, found[0], found[0].rsplit(".", 1)[1])


def _readable(conn: duckdb.DuckDBPyConnection, url: str) -> bool:
    try:
        conn.execute("SELECT 1 FROM read_text(?)", [url]).fetchall()
        return True
    except duckdb.Error:
        return False


def read_text(conn: duckdb.DuckDBPyConnection, file: ExportFile, entity: Entity,
              ) -> pd.DataFrame:
    """The contract's columns of a file, every value as text (empty is null), in file order."""
    present = _columns(conn, file)
    wanted = [c for c in entity.columns if c in present]
    if file.format == "jsonl":
        # ->> gives each value as text (booleans as true/false), so JSON reads like CSV.
        select = ", ".join(f"json ->> '{c}' AS \"{c}\"" for c in wanted)
        source = "read_ndjson_objects(?)"
    else:
        select = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in wanted)
        source = _source(file)
    if not wanted:
        select = "1 AS _none"
    frame = conn.execute(f"SELECT {select} FROM {source}", [file.location]).df()
    frame = frame.drop(columns=["_none"], errors="ignore").astype("str")
    return frame.replace("", None).reset_index(drop=True)


def _source(file: ExportFile) -> str:
    if file.format == "csv":
        # all_varchar: we parse values ourselves, so "0012" stays an id and a BOM is skipped.
        return "read_csv(?, all_varchar = true, header = true, delim = ',', quote = '\"')"
    return "read_parquet(?)"


def _columns(conn: duckdb.DuckDBPyConnection, file: ExportFile) -> set[str]:
    if file.format == "jsonl":
        rows = conn.execute("SELECT DISTINCT unnest(json_keys(json)) FROM "
                            "read_ndjson_objects(?)", [file.location]).fetchall()
    else:
        rows = conn.execute(f"DESCRIBE SELECT * FROM {_source(file)}",
                            [file.location]).fetchall()
    return {row[0] for row in rows}


def validate(entity: Entity, frame: pd.DataFrame, file: ExportFile,
             zone: ZoneInfo) -> list[str]:
    """Every contract violation in one file, one line per column and check."""
    try:
        text_schema(entity, zone).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return describe_failures(exc.failure_cases, frame, file, entity)
    return []


def describe_failures(cases: pd.DataFrame, frame: pd.DataFrame, file: ExportFile,
                      entity: Entity) -> list[str]:
    """pandera's failure cases as lines naming the file, column, check and first rows."""
    lines = []
    name = Path(file.location).name
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        if check == "column_in_dataframe":
            missing = ", ".join(repr(v) for v in group["failure_case"])
            lines.append(f"{name}: missing required column(s) {missing}")
            continue
        rows = sorted({int(i) for i in group["index"].dropna()})[:MAX_ROWS_SHOWN]
        if "uniqueness" in str(check):
            key = ", ".join(entity.key)
            values = [", ".join(map(str, frame.loc[i, list(entity.key)])) for i in rows]
            shown = "; ".join(f"{_row_label(file, i)} ({v})" for i, v in zip(rows, values,
                                                                                strict=True))
            lines.append(f"{name}: column(s) {key}: duplicate key; first offending rows: {shown}")
            continue
        what = "is required but empty" if check == "not_nullable" else f"must be {check}"
        shown = "; ".join(f"{_row_label(file, i)} ({frame.loc[i, column]!r})" for i in rows)
        lines.append(f"{name}: column {column!r} {what}; first offending rows: {shown}")
    # pandera reports a composite-key duplicate once per key column: say it once.
    return list(dict.fromkeys(lines))


def _row_label(file: ExportFile, index: int) -> str:
    # CSV users open the file in an editor: give the line (header is line 1).
    return f"line {index + 2}" if file.format == "csv" else f"record {index + 1}"


def read_export(location: str, zone: ZoneInfo, district: str) -> OtusExport:
    """Read and validate all five files; raise ExportContractError listing every problem."""
    problems: list[str] = []
    texts: dict[str, pd.DataFrame] = {}
    files: dict[str, ExportFile] = {}
    with duckdb.connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")  # Parquet timestamps cast to text in UTC
        for entity in ENTITIES.values():
            try:
                file = locate(location, entity.name, conn)
                frame = read_text(conn, file, entity)
            except ExportContractError as exc:
                problems += exc.problems
                continue
            except duckdb.Error as exc:
                problems.append(f"{entity.name}: the file cannot be read: {exc}")
                continue
            problems += validate(entity, frame, file, zone)
            texts[entity.name], files[entity.name] = frame, file
    if problems:
        raise ExportContractError(location, problems)
    tables = {name: typed(ENTITIES[name], frame, zone, district) for name, frame in texts.items()}
    return OtusExport(tables, files)
