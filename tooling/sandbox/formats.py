"""The `format`s the OneRoster documents declare (date, date-time, uri), checked on write bodies.

jsonschema ignores `format` unless it is given a format checker, and its checker silently
passes a format whose library is missing (date-time needs rfc3339-validator, uri needs
rfc3986-validator): `FORMATS` is built from those libraries and `require_checkers` refuses to
start a sandbox without them, so a strict SIS's 400 is never skipped by accident.

Bodies are almost always valid, so each schema is compiled once into a map of where its
formatted strings sit (through `properties` and `items`); a body is walked along that map
and each value is checked by jsonschema's own checker. A schema that declares a format
anywhere else (under `anyOf`, say) is refused when first used, so no format goes unchecked.
"""

from __future__ import annotations

from typing import Any

from jsonschema import FormatChecker
from jsonschema.exceptions import FormatError

from pipeline.oneroster.spec import SchemaProblem, SpecValidators

# OpenAPI 3.0 takes these from RFC 3339 (full-date, date-time) and RFC 3986 (URI).
CHECKED_FORMATS = ("date", "date-time", "uri")
FORMATS = FormatChecker(CHECKED_FORMATS)
# A compiled map: ("format", name) at a leaf, ("object", {property: map}) or ("array", map).
Where = tuple[str, Any]


class FormatCheckerMissing(RuntimeError):
    """A format's validating library is not installed: the sandbox would not check it."""


def require_checkers() -> None:
    """Raise unless jsonschema can check every format the documents declare."""
    missing = [name for name in CHECKED_FORMATS if name not in FORMATS.checkers]
    if missing:
        raise FormatCheckerMissing(
            f"jsonschema cannot check the format(s) {', '.join(missing)}: install the "
            "tooling extra (`pip install -c constraints.txt 'passback[tooling]'`), which "
            "brings rfc3339-validator and rfc3986-validator")


class Unmapped(Exception):
    """A format sits where the walk does not go (the documents shipped have none such)."""


def _declares_format(schema: Any) -> bool:
    if isinstance(schema, dict):
        return schema.get("format") in CHECKED_FORMATS or any(
            _declares_format(value) for value in schema.values())
    if isinstance(schema, list):
        return any(_declares_format(item) for item in schema)
    return False


def compile_where(schema: Any) -> Where | None:
    """Where `schema` puts formatted strings (None: nowhere); raises `Unmapped` if unsure."""
    if not isinstance(schema, dict):
        return None
    if schema.get("format") in CHECKED_FORMATS:
        return ("format", schema["format"])
    found: dict[str, Where] = {}
    for name, sub in (schema.get("properties") or {}).items():
        where = compile_where(sub)
        if where is not None:
            found[name] = where
    items = compile_where(schema.get("items"))
    others = {key: value for key, value in schema.items() if key not in ("properties", "items")}
    if _declares_format(others):
        raise Unmapped(sorted(others))
    if items is not None:
        if found:
            raise Unmapped("properties and items")
        return ("array", items)
    return ("object", found) if found else None


def _walk(where: Where, value: Any, path: str, out: list[SchemaProblem]) -> None:
    kind, inner = where
    if kind == "format":
        try:
            FORMATS.check(value, inner)
        except FormatError as error:
            out.append(SchemaProblem(path or "(body)", error.message))
    elif kind == "array" and isinstance(value, list):
        for index, item in enumerate(value):
            _walk(inner, item, f"{path}.{index}" if path else str(index), out)
    elif kind == "object" and isinstance(value, dict):
        for name, sub in inner.items():
            if name in value:
                _walk(sub, value[name], f"{path}.{name}" if path else name, out)


class StrictValidators:
    """A spec document's validators with `format` checked too (what a strict SIS refuses)."""

    def __init__(self, base: SpecValidators) -> None:
        require_checkers()
        self.base = base
        self._where: dict[str, Where | None] = {}

    def properties(self, schema_name: str) -> frozenset[str]:
        """The property names a component schema allows."""
        return self.base.properties(schema_name)

    def problems(self, schema_name: str, body: Any) -> list[SchemaProblem]:
        """Every way `body` breaks `schema_name`, its formats included, each naming the field."""
        found = self.base.problems(schema_name, body) + self.format_problems(schema_name, body)
        return sorted(found, key=lambda p: p.field)

    def format_problems(self, schema_name: str, body: Any) -> list[SchemaProblem]:
        """Every date, date-time or uri value in `body` that breaks its declared format."""
        if schema_name not in self._where:
            try:
                self._where[schema_name] = compile_where(
                    self.base.validator(schema_name).schema)
            except Unmapped as error:
                raise Unmapped(f"{schema_name} declares a format under {error}, where the "
                               "sandbox's format check does not look") from None
        where, out = self._where[schema_name], []
        if where is not None:
            _walk(where, body, "", out)
        return out
