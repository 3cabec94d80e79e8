"""The OneRoster OpenAPI documents, loaded once and compiled into validators.

Request bodies are checked against the spec schemas. The 1.2 documents are
strict already (``additionalProperties: false``). The derived 1.1 document is
loose and carries known typos, so its schemas are flattened (``allOf`` merged)
and closed before use, and the ``"not submmitted"`` typo gets the real value
``"not submitted"`` beside it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from pipeline.oneroster.fastcheck import Check, compile_check

SPEC_FILES = {
    "v1p1": "oneroster-v1p1-openapi3-derived-strongmind.json",
    "rostering": "onerosterv1p2rostersservice_openapi3_v1p0.json",
    "gradebook": "onerosterv1p2gradebookservice_openapi3_v1p0.json",
}
_ROOT = "urn:oneroster-spec"


# The documents ship inside the package (package data): see openapi/README.md for their source.
SPEC_DIR = Path(__file__).with_name("openapi")


def load_document(name: str) -> dict[str, Any]:
    """Load one spec document by its short name (v1p1, rostering, gradebook)."""
    path = SPEC_DIR / SPEC_FILES[name]
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def fix_v1p1_typos(document: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of the 1.1 document where the spec's real values are allowed too."""
    fixed = copy.deepcopy(document)
    schemas = fixed["components"]["schemas"]
    status = schemas["Result_Type_allOf"]["properties"]["scoreStatus"]
    if "not submitted" not in status["enum"]:
        status["enum"] = [*status["enum"], "not submitted"]
    return fixed


def _close(schema: Any, schemas: dict[str, Any]) -> Any:
    """Merge `allOf` parts and forbid unknown properties on every object schema."""
    if isinstance(schema, list):
        return [_close(item, schemas) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            if "$ref" in part:
                part = schemas[part["$ref"].rsplit("/", 1)[1]]
            part = _close(part, schemas)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        merged["additionalProperties"] = False
        return merged
    closed = {key: _close(value, schemas) for key, value in schema.items()}
    if closed.get("properties") and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    return closed


def strict_v1p1(document: dict[str, Any]) -> dict[str, Any]:
    """The 1.1 document with typos fixed and closed object schemas, for request checks."""
    fixed = fix_v1p1_typos(document)
    schemas = fixed["components"]["schemas"]
    fixed["components"]["schemas"] = {name: _close(s, schemas) for name, s in schemas.items()}
    return fixed


@dataclass(frozen=True)
class SchemaProblem:
    """One reason a body does not match its schema, with the field path it concerns."""

    field: str
    message: str


class SpecValidators:
    """Compiled validators for the request bodies of one spec document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.schemas: dict[str, Any] = document["components"]["schemas"]
        resource = Resource.from_contents(document, default_specification=DRAFT4)
        self._registry: Registry = Registry().with_resource(_ROOT, resource)
        self._compiled: dict[str, Draft4Validator] = {}
        self._fast: dict[str, Check | None] = {}

    def validator(self, schema_name: str) -> Draft4Validator:
        """The compiled validator for a named component schema (compiled on first use).

        References are inlined first: resolving `$ref` through the registry on every
        request costs more than the rest of a PUT together.
        """
        compiled = self._compiled.get(schema_name)
        if compiled is None:
            inlined = _inline(self.schemas[schema_name], self.schemas, ())
            compiled = Draft4Validator(inlined, registry=self._registry)
            self._compiled[schema_name] = compiled
            self._fast[schema_name] = compile_check(inlined)
        return compiled

    def problems(self, schema_name: str, body: Any) -> list[SchemaProblem]:
        """Every way `body` breaks `schema_name`, each naming the field."""
        validator = self.validator(schema_name)
        fast = self._fast[schema_name]
        if fast is not None and fast(body):
            return []  # certainly valid; jsonschema is consulted only when in doubt
        found = []
        for error in validator.iter_errors(body):
            found.append(SchemaProblem(_field_of(error), error.message))
        return sorted(found, key=lambda p: p.field)

    def properties(self, schema_name: str) -> frozenset[str]:
        """The property names a component schema allows."""
        schema = self.schemas[schema_name]
        if "allOf" in schema:
            return frozenset().union(*(self.properties(p["$ref"].rsplit("/", 1)[1])
                                       for p in schema["allOf"]))
        return frozenset(schema.get("properties", {}))


def _inline(schema: Any, schemas: dict[str, Any], seen: tuple[str, ...]) -> Any:
    """Replace local component references by their schema (a cycle keeps its `$ref`)."""
    if isinstance(schema, list):
        return [_inline(item, schemas, seen) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name in seen:
            return {"$ref": f"{_ROOT}{ref}"}
        return _inline(schemas[name], schemas, (*seen, name))
    inlined = {key: _inline(value, schemas, seen) for key, value in schema.items()
               if key not in ("description", "properties")}
    if "properties" in schema:
        # Property names are data, not keywords: a `description` property must survive.
        inlined["properties"] = {name: _inline(sub, schemas, seen)
                                 for name, sub in schema["properties"].items()}
    return inlined


def _field_of(error: Any) -> str:
    """A dotted field path for a jsonschema error, naming the missing/extra key too."""
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required":
        path.append(error.message.split("'")[1])
    elif error.validator == "additionalProperties":
        extra = error.message.split("'")
        if len(extra) > 1:
            path.append(extra[1])
    return ".".join(path) or "(body)"


@cache
def validators(name: str) -> SpecValidators:
    """Validators for a spec document, compiled once per process."""
    document = load_document(name)
    if name == "v1p1":
        document = strict_v1p1(document)
    return SpecValidators(document)
