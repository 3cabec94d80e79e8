"""Request bodies checked against the OneRoster OpenAPI component schemas, in microseconds.

The spec documents are loaded by the sandbox's public loader (`pipeline.oneroster.spec`), which
closes the loose 1.1 schemas and fixes the 1.1 typos; its jsonschema validators cost about
half a millisecond per body because `$ref`s are resolved on every call. The sink checks every
body it sends, so each schema is compiled once here into nested Python closures (refs
resolved at compile time) that cost a few microseconds. jsonschema stays the reference: when a
body fails, its messages are the ones reported, and the tests compare the two verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from pipeline.oneroster.spec import SpecValidators, validators

# A check returns None when the value fits, else a reason; paths are prefixed only on failure
# (building them for every field would cost more than the checks themselves).
Check = Callable[[Any], str | None]

# Spec document per OneRoster version (the 1.1 document holds all three services).
DOCUMENTS = {"1.1": "v1p1", "1.2": "gradebook"}
# PUT body schema per (version, entity).
BODY_SCHEMAS = {
    ("1.1", "line_items"): "SingleLineItem.Type",
    ("1.1", "results"): "SingleResult.Type",
    ("1.2", "line_items"): "SingleLineItemDType",
    ("1.2", "results"): "SingleResultDType",
}
# Bulk POST body schema per entity (1.2 only: 1.1 has no bulk writes).
SET_SCHEMAS = {"line_items": "LineItemSetDType", "results": "ResultSetDType"}
# Keywords that only document; everything else must be understood or compilation fails.
_IGNORED = frozenset({"description", "example", "title", "x-original-swagger-version"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_FORMATS: dict[str, Callable[[str], bool]] = {
    "date": lambda v: bool(_DATE.match(v)),
    "date-time": lambda v: bool(_DATE_TIME.match(v)),
    "uri": lambda v: v.startswith(("http://", "https://")),
    "float": lambda v: True,
}
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


class SchemaCompiler:
    """Compiles component schemas of one spec document into checks, each `$ref` once."""

    def __init__(self, spec: SpecValidators) -> None:
        self.spec = spec
        self._named: dict[str, Check] = {}

    def named(self, name: str) -> Check:
        """The check for a component schema (recursive references are resolved lazily)."""
        if name not in self._named:
            # A placeholder first, so a schema that refers to itself does not recurse forever.
            self._named[name] = lambda value: self._named[name](value)
            self._named[name] = self.compile(self.spec.schemas[name])
        return self._named[name]

    def compile(self, schema: dict[str, Any]) -> Check:
        """One schema as a chain of checks."""
        if "$ref" in schema:
            return self.named(schema["$ref"].rsplit("/", 1)[1])
        unknown = set(schema) - _IGNORED - {
            "type", "properties", "required", "additionalProperties", "enum", "pattern",
            "anyOf", "items", "minItems", "format"}
        if unknown:
            raise ValueError(f"schema keyword(s) {sorted(unknown)} are not supported")
        checks = [c for c in (self._type(schema), self._enum(schema), self._pattern(schema),
                              self._format(schema), self._any_of(schema), self._object(schema),
                              self._array(schema)) if c is not None]
        if len(checks) == 1:
            return checks[0]

        def all_of(value: Any) -> str | None:
            for check in checks:
                problem = check(value)
                if problem:
                    return problem
            return None

        return all_of

    def _type(self, schema: dict[str, Any]) -> Check | None:
        name = schema.get("type")
        if name is None:
            return None
        test = _TYPES[name]
        return lambda value: None if test(value) else f": is not of type {name}"

    def _enum(self, schema: dict[str, Any]) -> Check | None:
        if "enum" not in schema:
            return None
        allowed = frozenset(schema["enum"])
        return lambda value: None if value in allowed else \
            f": {value!r} is not one of {sorted(allowed)}"

    def _pattern(self, schema: dict[str, Any]) -> Check | None:
        if "pattern" not in schema:
            return None
        search = re.compile(schema["pattern"]).search  # JSON Schema patterns are unanchored
        return lambda value: None if not isinstance(value, str) or search(value) else \
            f": {value!r} does not match {schema['pattern']!r}"

    def _format(self, schema: dict[str, Any]) -> Check | None:
        test = _FORMATS.get(schema.get("format", ""))
        if test is None:
            return None
        name = schema["format"]
        return lambda value: None if not isinstance(value, str) or test(value) else \
            f": {value!r} is not a {name}"

    def _any_of(self, schema: dict[str, Any]) -> Check | None:
        if "anyOf" not in schema:
            return None
        options = [self.compile(option) for option in schema["anyOf"]]

        def any_of(value: Any) -> str | None:
            if any(option(value) is None for option in options):
                return None
            return f": {value!r} matches none of the allowed forms"

        return any_of

    def _object(self, schema: dict[str, Any]) -> Check | None:
        properties = {key: self.compile(sub) for key, sub in schema.get("properties", {}).items()}
        required = tuple(schema.get("required", ()))
        closed = schema.get("additionalProperties") is False
        if not properties and not required and not closed:
            return None

        def check_object(value: Any) -> str | None:
            if not isinstance(value, dict):
                return None  # the type check reports it
            for key in required:
                if key not in value:
                    return f".{key}: is required"
            for key, item in value.items():
                check = properties.get(key)
                if check is None:
                    if closed:
                        return f".{key}: is not allowed here"
                    continue
                problem = check(item)
                if problem:
                    return f".{key}{problem}"
            return None

        return check_object

    def _array(self, schema: dict[str, Any]) -> Check | None:
        if "items" not in schema and "minItems" not in schema:
            return None
        item_check = self.compile(schema["items"]) if "items" in schema else None
        minimum = int(schema.get("minItems", 0))

        def check_array(value: Any) -> str | None:
            if not isinstance(value, list):
                return None
            if len(value) < minimum:
                return f": has fewer than {minimum} items"
            for index, item in enumerate(value):
                problem = item_check(item) if item_check else None
                if problem:
                    return f"[{index}]{problem}"
            return None

        return check_array


@cache
def _compiler(version: str) -> SchemaCompiler:
    return SchemaCompiler(validators(DOCUMENTS[version]))


@cache
def body_check(version: str, entity: str) -> Check:
    """The compiled check of a PUT body for a OneRoster version and entity (built once)."""
    return _compiler(version).named(BODY_SCHEMAS[(version, entity)])


def body_problem(version: str, entity: str, body: dict[str, Any]) -> str | None:
    """Why a PUT body breaks the spec, or None. Fast path compiled; reasons from jsonschema."""
    if body_check(version, entity)(body) is None:
        return None
    schema = BODY_SCHEMAS[(version, entity)]
    problems = validators(DOCUMENTS[version]).problems(schema, body)
    if not problems:  # formats: jsonschema does not check them, the compiled check does
        return "body" + str(body_check(version, entity)(body))
    return "; ".join(f"{p.field}: {p.message}" for p in problems[:5])


@cache
def set_check(entity: str) -> Check:
    """The compiled check of a 1.2 bulk POST body (`{"lineItems": [...]}`) for an entity."""
    return _compiler("1.2").named(SET_SCHEMAS[entity])


def set_problem(entity: str, body: dict[str, Any]) -> str | None:
    """Why a 1.2 bulk POST body breaks the spec, or None (the compiled check's reason)."""
    problem = set_check(entity)(body)
    return None if problem is None else "body" + problem
