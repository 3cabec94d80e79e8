"""The Otus gradebook export contract (version 1) as data, and the pandera schemas built from it.

Files are read as text first, whatever their format, so one schema checks every format the
same way: required columns, non-empty required values, enums, key uniqueness, and that each
timestamp, boolean and decimal can be read. Only then are values converted to their types.
The contract lives in ../shared/otus-gradebook-export.md; this module must follow it. The
`otus.*` tables' DDL is derived from `Entity.arrow_schema` (pipeline/warehouse.py), so this
module must not import the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow

Kind = Literal["string", "timestamp", "boolean", "decimal", "enum"]
# The Arrow type of each kind once converted (`typed`); the otus.* tables' columns follow it.
ARROW_TYPES: dict[Kind, pyarrow.DataType] = {
    "string": pyarrow.string(), "enum": pyarrow.string(), "boolean": pyarrow.bool_(),
    "decimal": pyarrow.float64(), "timestamp": pyarrow.timestamp("us", tz="UTC"),
}
TRUE_VALUES = ("true", "1")
BOOLEAN_VALUES = ("true", "false", "1", "0")
# An offset (`Z`, `+02:00`, `+0200`, `+02`) at the end of a timestamp's *time* part; without
# one the timestamp is local time in the district's zone. The time part (`T` or a space, then
# hh[:mm[:ss[.fff]]]) is required before it: in a date-only `2026-10-21` the `-21` is the
# day, not an offset (issue 17, item 4).
_OFFSET = r"[T ]\d{2}(?::?\d{2}){0,2}(?:[.,]\d+)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)$"


@dataclass(frozen=True)
class Field:
    """One column of an export file."""

    name: str
    kind: Kind
    required: bool
    values: tuple[str, ...] = ()  # allowed values of an enum


@dataclass(frozen=True)
class Entity:
    """One export file: its columns and the columns that make a row unique."""

    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        """The contract's column names in order."""
        return [f.name for f in self.fields]

    @property
    def arrow_schema(self) -> pyarrow.Schema:
        """The typed rows' Arrow schema, district first; a required column is not nullable."""
        return pyarrow.schema([
            pyarrow.field("district", pyarrow.string(), nullable=False),
            *(pyarrow.field(f.name, ARROW_TYPES[f.kind], nullable=not f.required)
              for f in self.fields)])


def _f(name: str, kind: Kind, required: bool = False, values: tuple[str, ...] = ()) -> Field:
    return Field(name, kind, required, values)


ENTITIES: dict[str, Entity] = {e.name: e for e in (
    Entity("users", (
        _f("user_id", "string", True), _f("sis_sourced_id", "string"),
        _f("role", "enum", True, ("teacher", "administrator", "student")),
        _f("given_name", "string"), _f("family_name", "string"), _f("email", "string"),
    ), key=("user_id",)),
    Entity("passback_group", (
        _f("user_id", "string", True), _f("added_at", "timestamp", True),
    ), key=("user_id",)),
    Entity("assessments", (
        _f("assessment_id", "string", True), _f("title", "string", True),
        # One of Otus's 12 types, but a string in the contract: an unknown type is refused by
        # the `unmapped_category` rule, not by refusing the whole export.
        _f("assessment_type", "string", True),
        _f("grading_method", "enum", True, ("points", "standards")),
        _f("points_possible", "decimal"), _f("include_in_final_grade", "boolean", True),
        _f("created_by", "string", True), _f("updated_at", "timestamp", True),
        _f("deleted_at", "timestamp"),
    ), key=("assessment_id",)),
    Entity("class_assignments", (
        _f("assignment_id", "string", True), _f("assessment_id", "string", True),
        _f("class_sourced_id", "string", True), _f("assigned_by", "string", True),
        _f("assigned_at", "timestamp", True), _f("go_live_at", "timestamp"),
        _f("due_at", "timestamp"), _f("updated_at", "timestamp", True),
        _f("deleted_at", "timestamp"),
    ), key=("assignment_id",)),
    Entity("scores", (
        _f("assignment_id", "string", True), _f("student_sourced_id", "string", True),
        _f("status", "enum", True, ("not_submitted", "in_progress", "submitted", "graded")),
        _f("points_earned", "decimal"), _f("excluded", "boolean", True),
        _f("late", "boolean"), _f("missing", "boolean"), _f("graded_at", "timestamp"),
        _f("comment", "string"), _f("updated_at", "timestamp", True),
    ), key=("assignment_id", "student_sourced_id")),
)}


def sql_literal(text: str) -> str:
    """A string as a SQL literal."""
    return "'" + text.replace("'", "''") + "'"


def parse_timestamps(text: pd.Series, zone: ZoneInfo) -> pd.Series:
    """ISO 8601 text as UTC timestamps; no offset means local time in `zone`; bad text is NaT."""
    text = text.astype("str")
    has_offset = text.str.contains(_OFFSET, regex=True, na=False)
    aware = pd.to_datetime(text.where(has_offset), utc=True, format="ISO8601", errors="coerce")
    naive = pd.to_datetime(text.where(~has_offset), format="ISO8601", errors="coerce")
    # A wall-clock time that happens twice (autumn change) is read as the first occurrence;
    # one that never happens (spring change) is moved forward.
    local = naive.dt.tz_localize(zone, ambiguous=np.ones(len(naive), dtype=bool),
                                 nonexistent="shift_forward").dt.tz_convert("UTC")
    return aware.where(has_offset, local).astype("datetime64[us, UTC]")


def parse_booleans(text: pd.Series) -> pd.Series:
    """true/false/1/0 (any case) as a nullable boolean."""
    lowered = text.str.lower()
    return lowered.isin(TRUE_VALUES).astype("boolean").where(text.notna(), pd.NA)


def parse_decimals(text: pd.Series) -> pd.Series:
    """Decimal text as float; anything else is NaN."""
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _checks(field: Field, zone: ZoneInfo) -> list[pa.Check]:
    """The field's value checks. Each states its rule twice, once per engine: the pandas
    function (pandera validating a frame) and, in `statistics`, the same rule as DuckDB SQL
    over the value as text (`text_sql`) and, where a Parquet file may carry the value natively
    typed, over that value (`native_sql`; absent: a native value always passes). The reader
    (`pipeline.otus.validation`) runs the SQL inside DuckDB; the schema stays the contract."""
    if field.kind == "enum":
        allowed = list(field.values)
        listed = ", ".join(sql_literal(v) for v in allowed)
        return [pa.Check(lambda s: s.isin(allowed), ignore_na=True, name=f"one of {allowed}",
                         statistics={"text_sql": f"{{value}} IN ({listed})"})]
    if field.kind == "boolean":
        listed = ", ".join(sql_literal(v) for v in BOOLEAN_VALUES)
        return [pa.Check(lambda s: s.str.lower().isin(BOOLEAN_VALUES), ignore_na=True,
                         name="true, false, 1 or 0",
                         statistics={"text_sql": f"lower({{value}}) IN ({listed})"})]
    if field.kind == "decimal":
        return [pa.Check(lambda s: np.isfinite(parse_decimals(s)), ignore_na=True,
                         name="a decimal number",
                         statistics={"text_sql": "isfinite(TRY_CAST({value} AS DOUBLE))",
                                     "native_sql": "isfinite(CAST({value} AS DOUBLE))"})]
    if field.kind == "timestamp":
        return [pa.Check(lambda s: parse_timestamps(s, zone).notna(), ignore_na=True,
                         name="an ISO 8601 timestamp",
                         statistics={"text_sql": "otus_timestamp({value}) IS NOT NULL"})]
    return []


def text_schema(entity: Entity, zone: ZoneInfo) -> pa.DataFrameSchema:
    """The pandera schema of an export file read as text (extra columns are ignored)."""
    columns = {
        f.name: pa.Column(str, nullable=not f.required, required=f.required,
                          checks=_checks(f, zone))
        for f in entity.fields
    }
    return pa.DataFrameSchema(columns, unique=list(entity.key), strict=False, coerce=False,
                              name=entity.name)
