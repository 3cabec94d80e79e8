"""A quick "certainly valid" test compiled from a JSON schema, in front of jsonschema.

jsonschema re-walks the schema on every call and costs more than the rest of a
PUT together. Bodies are almost always valid, so each schema is also compiled
into plain closures that answer only "certainly valid" (True) or "not sure"
(False). On False the caller runs jsonschema, which is the authority and gives
the error messages. A schema using any keyword this module does not know is
not compiled at all, so the fast path can never accept what jsonschema would
refuse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]
# Keywords that never change validity here: annotations and `format`, which jsonschema
# ignores unless it is given a format checker (the sandbox gives it none).
_IGNORED = frozenset({"description", "default", "example", "examples", "title", "format",
                      "readOnly", "writeOnly", "deprecated"})
_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    # Draft 4 treats 1.0 as a number but not an integer; leave floats to jsonschema.
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


class Unsupported(Exception):
    """The schema uses a keyword the fast path does not model."""


def compile_check(schema: Any) -> Check | None:
    """A "certainly valid" predicate for `schema`, or None when it cannot be modelled."""
    try:
        return _compile(schema)
    except Unsupported:
        return None


def _compile(schema: Any) -> Check:
    if not isinstance(schema, dict):
        raise Unsupported(repr(schema))
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword in _IGNORED or keyword.startswith("x-"):
            continue
        builder = _BUILDERS.get(keyword)
        if builder is None:
            raise Unsupported(keyword)
        checks.append(builder(value, schema))
    return _every(checks)


def _every(checks: list[Check]) -> Check:
    # Plain loops: generator expressions cost more than the checks they run.
    if len(checks) == 1:
        return checks[0]

    def check(instance: Any) -> bool:
        for one in checks:  # noqa: SIM110 - all(<genexpr>) is the slower spelling here
            if not one(instance):
                return False
        return True
    return check


def _type(value: Any, _schema: dict) -> Check:
    if not isinstance(value, str) or value not in _TYPES:
        raise Unsupported(f"type {value!r}")
    return _TYPES[value]


def _enum(value: Any, _schema: dict) -> Check:
    if not all(isinstance(item, str) for item in value):
        raise Unsupported("non-string enum")  # 1 == True in Python; not worth the care
    allowed = frozenset(value)
    return lambda v: isinstance(v, str) and v in allowed


def _pattern(value: Any, _schema: dict) -> Check:
    compiled = re.compile(value)
    return lambda v: not isinstance(v, str) or compiled.search(v) is not None


def _properties(value: Any, _schema: dict) -> Check:
    compiled = {name: _compile(sub) for name, sub in value.items()}

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for key, item in v.items():
            sub = compiled.get(key)
            if sub is not None and not sub(item):
                return False
        return True
    return check


def _additional(value: Any, schema: dict) -> Check:
    known = frozenset(schema.get("properties", {}))
    if value is True:
        return lambda v: True
    if value is not False:
        raise Unsupported("additionalProperties schema")
    return lambda v: not isinstance(v, dict) or known.issuperset(v)


def _required(value: Any, _schema: dict) -> Check:
    names = frozenset(value)
    return lambda v: not isinstance(v, dict) or names.issubset(v)


def _items(value: Any, _schema: dict) -> Check:
    item = _compile(value)
    return lambda v: not isinstance(v, list) or all(item(x) for x in v)


def _min_items(value: Any, _schema: dict) -> Check:
    return lambda v: not isinstance(v, list) or len(v) >= value


def _any_of(value: Any, _schema: dict) -> Check:
    options = [_compile(sub) for sub in value]
    return lambda v: any(option(v) for option in options)


def _minimum(value: Any, _schema: dict) -> Check:
    return lambda v: not _TYPES["number"](v) or v >= value


_BUILDERS: dict[str, Callable[[Any, dict], Check]] = {
    "type": _type, "enum": _enum, "pattern": _pattern, "properties": _properties,
    "additionalProperties": _additional, "required": _required, "items": _items,
    "minItems": _min_items, "anyOf": _any_of, "minimum": _minimum,
}
