"""Small, tolerant readers that turn one OneRoster JSON record into warehouse column values.

Each reader is built once per column (`text("parent.sourcedId")`) and knows its Arrow type,
so an endpoint's column map is data and the Arrow schema follows from it. Readers never
raise on odd input: a value that cannot be read becomes null, and unknown fields are ignored.
1.1 and 1.2 differ in small ways (booleans as JSON booleans or as "true"/"false" strings,
`role`/`orgs` versus `roles`/`primaryOrg`); the readers accept both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import pyarrow as pa

JSON = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """How to read one warehouse column out of a record, and its Arrow type."""

    read: Callable[[JSON], Any]
    arrow_type: pa.DataType


def dig(record: JSON, path: str) -> Any:
    """The value at a dotted path (`parent.sourcedId`), or None where any step is missing.

    A step through a list maps over it (`roles.org` is the list of every role's org).
    """
    return _walk(record, path.split("."))


def _walk(record: JSON, steps: list[str]) -> Any:
    value: Any = record
    for step in steps:
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list):
            value = [item.get(step) for item in value if isinstance(item, dict)]
        else:
            return None
    return value


def _reader(path: str, convert: Callable[[Any], Any]) -> Callable[[JSON], Any]:
    """A reader for one path, split once (flattening runs per record, so this is hot)."""
    steps = path.split(".")
    if len(steps) == 1:
        return lambda record: convert(record.get(path))
    return lambda record: convert(_walk(record, steps))


def to_bool(value: Any) -> bool | None:
    """A JSON boolean, or the strings "true"/"false" (1.2 binds booleans as strings)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    return None


# Dates and timestamps repeat across a collection (bulk loads share one dateLastModified):
# parse each distinct text once.
@lru_cache(maxsize=8192)
def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


@lru_cache(maxsize=8192)
def _parse_timestamp(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_date(value: Any) -> date | None:
    """A `YYYY-MM-DD` date, also taken from the date part of a full timestamp (1.1 lineItems)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    return _parse_date(value)


def to_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (naive values are taken as UTC)."""
    if not isinstance(value, str) or not value:
        return None
    return _parse_timestamp(value)


def to_float(value: Any) -> float | None:
    """A number, or a numeric string; anything else is null."""
    if isinstance(value, bool):
        return None
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def to_text(value: Any) -> str | None:
    """A scalar as text; empty strings and containers are null."""
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    return str(value)


def text(path: str) -> Column:
    """A text column at a dotted path."""
    return Column(_reader(path, to_text), pa.string())


def flag(path: str) -> Column:
    """A boolean column at a dotted path (JSON boolean or "true"/"false")."""
    return Column(_reader(path, to_bool), pa.bool_())


def day(path: str) -> Column:
    """A date column at a dotted path."""
    return Column(_reader(path, to_date), pa.date32())


def number(path: str) -> Column:
    """A floating-point column at a dotted path."""
    return Column(_reader(path, to_float), pa.float64())


def moment(path: str) -> Column:
    """A UTC timestamp column at a dotted path."""
    return Column(_reader(path, to_timestamp), pa.timestamp("us", tz="UTC"))


def ref_ids(*paths: str) -> Column:
    """The sourcedIds of GUIDRef lists (or single refs) at several paths, de-duplicated."""

    def read(record: JSON) -> list[str]:
        found: list[str] = []
        for path in paths:
            value = dig(record, path)
            refs = value if isinstance(value, list) else [value]
            for ref in refs:
                sourced_id = to_text(ref.get("sourcedId")) if isinstance(ref, dict) else None
                if sourced_id and sourced_id not in found:
                    found.append(sourced_id)
        return found

    return Column(read, pa.list_(pa.string()))


def user_role() -> Column:
    """1.1 `role`, or the 1.2 role marked `primary` in `roles` (the first one otherwise)."""

    def read(record: JSON) -> str | None:
        if to_text(record.get("role")):
            return to_text(record.get("role"))
        roles = [r for r in record.get("roles") or [] if isinstance(r, dict)]
        primary = [r for r in roles if r.get("roleType") == "primary"] or roles
        return to_text(primary[0].get("role")) if primary else None

    return Column(read, pa.string())


# Every OneRoster record carries these; the endpoint table adds its own columns.
COMMON_COLUMNS: dict[str, Column] = {
    "sourced_id": text("sourcedId"),
    "status": text("status"),
    "date_last_modified": moment("dateLastModified"),
}
