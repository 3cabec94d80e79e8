"""Reading a district's Otus export inside DuckDB: find each file, stage it in a DuckDB file
of its own, check the whole export against the contract there, and only then type it.

DuckDB does the reading, so the export may be a local folder or any location DuckDB reads
(http(s), s3...), and no table is ever a pandas frame: the stage lives on disk under a memory
limit, so a 12-million-score export is read in bounded memory. Every file is checked before
anything is typed: a caller that writes the result can never half-load an export. The stage
is a DuckDB file of its own (not the warehouse) so that reading a remote export holds no
warehouse connection while the network answers; the warehouse then copies the typed tables
from it (`assets.extract.otus`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pyarrow

from pipeline.otus.contract import ENTITIES, Entity, sql_literal, text_schema
from pipeline.otus.sql import TEXT, define_macros, typed_sql
from pipeline.otus.validation import validate_staged

FORMATS = ("csv", "jsonl", "parquet")
# The stage's share of a step's 1.5 GiB: DuckDB spills to the stage's folder beyond it.
STAGE_MEMORY = "1GB"


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
class StagedExport:
    """A validated export, typed, in a closed DuckDB file: one table per entity (`district`
    first, rows in file order), the file each came from, and each table's rows and live rows
    (not marked deleted)."""

    database: Path
    files: dict[str, ExportFile]
    rows: dict[str, int]
    live_rows: dict[str, int]


@dataclass(frozen=True)
class OtusExport:
    """A validated export as pandas frames (small exports: tests and tools)."""

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


def _source(file: ExportFile, location: str = "?") -> str:
    if file.format == "csv":
        # all_varchar: we parse values ourselves, so "0012" stays an id and a BOM is skipped.
        return (f"read_csv({location}, all_varchar = true, header = true, delim = ',', "
                "quote = '\"')")
    return f"read_parquet({location})"


def _columns(conn: duckdb.DuckDBPyConnection, file: ExportFile) -> dict[str, str]:
    """Each column of a file and its DuckDB type (JSON values are read as text)."""
    if file.format == "jsonl":
        rows = conn.execute("SELECT DISTINCT unnest(json_keys(json)) FROM "
                            "read_ndjson_objects(?)", [file.location]).fetchall()
        return {row[0]: TEXT for row in rows}
    rows = conn.execute(f"DESCRIBE SELECT * FROM {_source(file)}", [file.location]).fetchall()
    return {row[0]: row[1] for row in rows}


def _stage_text(conn: duckdb.DuckDBPyConnection, file: ExportFile, entity: Entity,
                raw: str) -> dict[str, str]:
    """The contract's columns of a file as relation `raw`, `_row` its place in the file and
    empty text null; return each column's type there. CSV and JSON are parsed once into a
    table of text; Parquet, columnar and typed already, is read in place through a view, and
    keeps its own types, so a typed timestamp is never printed and parsed again."""
    present = _columns(conn, file)
    wanted = {c: present[c] for c in entity.columns if c in present}
    if file.format == "jsonl":
        # ->> gives each value as text (booleans as true/false), so JSON reads like CSV.
        values = {c: f"json ->> '{c}'" for c in wanted}
        source = f"read_ndjson_objects({sql_literal(file.location)})"
    else:
        values = {c: f'"{c}"' for c in wanted}
        source = _source(file, sql_literal(file.location))
    select = ", ".join([f'nullif({v}, \'\') AS "{c}"' if wanted[c] == TEXT else f'{v} AS "{c}"'
                        for c, v in values.items()] or ["1 AS _none"])
    if file.format == "parquet":
        conn.execute(f"CREATE VIEW {raw} AS SELECT file_row_number AS _row, {select} "
                     f"FROM {source.removesuffix(')')}, file_row_number = true)")
    else:  # a table keeps the file's order: its rowid is the row's place
        conn.execute(f"CREATE TABLE {raw}_text AS SELECT {select} FROM {source}")
        conn.execute(f"CREATE VIEW {raw} AS SELECT rowid AS _row, * FROM {raw}_text")
    return wanted


def _stage_typed(conn: duckdb.DuckDBPyConnection, entity: Entity, raw: str,
                 types: dict[str, str], district: str) -> None:
    """The typed table of an entity, built from its checked staged text; `raw` is dropped."""
    columns = [f"CAST({typed_sql(f, f.name, types[f.name])} AS "
               f"{_duck_type(f.name, entity)}) AS \"{f.name}\"" if f.name in types else
               f"CAST(NULL AS {_duck_type(f.name, entity)}) AS \"{f.name}\""
               for f in entity.fields]
    conn.execute(f"CREATE TABLE \"{entity.name}\" AS SELECT CAST(? AS VARCHAR) AS district, "
                 f"{', '.join(columns)} FROM {raw}", [district])
    conn.execute(f"DROP VIEW {raw}")
    conn.execute(f"DROP TABLE IF EXISTS {raw}_text")


def _duck_type(column: str, entity: Entity) -> str:
    arrow = entity.arrow_schema.field(column).type
    return {pyarrow.string(): "VARCHAR", pyarrow.bool_(): "BOOLEAN",
            pyarrow.float64(): "DOUBLE"}.get(arrow, "TIMESTAMPTZ")


@contextmanager
def stage_export(location: str, zone: ZoneInfo, district: str, *,
                 folder: Path | None = None) -> Iterator[StagedExport]:
    """Read, check and type all five files in a DuckDB file of their own; yield it closed
    (removed on exit). Raise ExportContractError listing every problem of every file."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkdtemp makes the folder owner-only: the stage holds student records.
    with tempfile.TemporaryDirectory(prefix="passback-otus-", dir=folder) as scratch:
        database = Path(scratch) / "export.duckdb"
        with closing(duckdb.connect(str(database), config={
                "memory_limit": STAGE_MEMORY, "temp_directory": str(Path(scratch) / "spill"),
                "preserve_insertion_order": True})) as conn:
            define_macros(conn, zone.key)
            # DuckDB 2.0 prunes Parquet row groups by min/max statistics that leave NaN out,
            # so `WHERE NOT isfinite(x)` found no row where a count did. The stage's queries
            # are whole scans; only the first-rows look-ups filter, and they must be right.
            conn.execute("SET disabled_optimizers = 'filter_pushdown'")
            files, types = _stage_all(conn, location, zone)
            for name in files:
                _stage_typed(conn, ENTITIES[name], f"raw_{name}", types[name], district)
            rows, live = _counts(conn)
        yield StagedExport(database, files, rows, live)


def _stage_all(conn: duckdb.DuckDBPyConnection, location: str, zone: ZoneInfo,
               ) -> tuple[dict[str, ExportFile], dict[str, dict[str, str]]]:
    problems: list[str] = []
    files: dict[str, ExportFile] = {}
    types: dict[str, dict[str, str]] = {}
    for entity in ENTITIES.values():
        raw = f"raw_{entity.name}"
        try:
            file = locate(location, entity.name, conn)
            staged = _stage_text(conn, file, entity, raw)
        except ExportContractError as exc:
            problems += exc.problems
            continue
        except duckdb.Error as exc:
            problems.append(f"{entity.name}: the file cannot be read: {exc}")
            continue
        problems += validate_staged(conn, raw, entity, file.location, file.format,
                                    text_schema(entity, zone), staged)
        files[entity.name], types[entity.name] = file, staged
    if problems:
        raise ExportContractError(location, problems)
    return files, types


def _counts(conn: duckdb.DuckDBPyConnection) -> tuple[dict[str, int], dict[str, int]]:
    rows, live = {}, {}
    for entity in ENTITIES.values():
        deleted = ("coalesce(count_if(deleted_at IS NULL), 0)"
                   if "deleted_at" in entity.columns else "count(*)")
        rows[entity.name], live[entity.name] = conn.execute(
            f'SELECT count(*), {deleted} FROM "{entity.name}"').fetchall()[0]
    return rows, live


def read_export(location: str, zone: ZoneInfo, district: str) -> OtusExport:
    """Read, check and type the export as pandas frames; for small exports (tests, tools):
    the extract asset copies the stage into the warehouse instead (`stage_export`)."""
    with stage_export(location, zone, district) as staged, \
            closing(duckdb.connect(str(staged.database), read_only=True)) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        tables = {name: conn.sql(f'SELECT * FROM "{name}"').to_arrow_table().to_pandas(
            types_mapper={pyarrow.bool_(): pd.BooleanDtype()}.get) for name in ENTITIES}
    return OtusExport(tables, staged.files)
