"""Gradebook endpoints: categories, line items and results (GET, PUT, DELETE, bulk POST).

Bodies are checked against the spec schema first, its date, date-time and uri formats
included (400 naming every field that breaks it), then against the SIS rules (422 with the
SIS's reasons). Stored records are
version-neutral, so what one version writes the other reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tooling.sandbox.errors import ImsxError, bad_request, unknown_object
from tooling.sandbox.formats import StrictValidators
from tooling.sandbox.render import REF_FIELDS, Bases, render_record
from tooling.sandbox.rules import GradebookRules
from tooling.sandbox.store import GradebookStore, Record

JSON = dict[str, Any]
# kind -> (single wrapper, 1.1 item schema, 1.2 item schema)
KINDS = {
    "categories": ("category", "Category", "CategoryDType"),
    "lineItems": ("lineItem", "LineItem", "LineItemDType"),
    "results": ("result", "Result", "ResultDType"),
}
# 1.1 GUIDRefs carry a free `type`; a reference of the wrong type is as wrong as a missing one.
V1P1_REF_TYPES = {
    "class": {"class"}, "category": {"category"}, "lineItem": {"lineItem"},
    "student": {"student", "user"}, "school": {"org"},
    "gradingPeriod": {"academicSession", "gradingPeriod", "term"},
}


@dataclass(frozen=True)
class GradebookService:
    """One version's view of the gradebook: its schemas and where hrefs point."""

    validators: StrictValidators
    bases: Bases
    v1p2: bool

    def item_schema(self, kind: str) -> str:
        """The component schema of one record of a kind."""
        _, v1p1, v1p2 = KINDS[kind]
        return v1p2 if self.v1p2 else f"{v1p1}.Type"

    def single_schema(self, kind: str) -> str:
        """The component schema of a PUT body."""
        _, v1p1, v1p2 = KINDS[kind]
        return f"Single{v1p2}" if self.v1p2 else f"Single{v1p1}.Type"

    def allowed(self, kind: str) -> frozenset[str]:
        """Field names a record of this kind may have in this version."""
        return self.validators.properties(self.item_schema(kind))

    def render(self, kind: str, record: Record) -> JSON:
        """A stored record in this version's JSON shape."""
        if kind == "lineItems":
            # 1.1 requires resultValueMin and 1.2 requires dueDate; fill what the other
            # version's client was allowed to leave out.
            record = record | {"resultValueMin": record.get("resultValueMin", 0.0),
                               "dueDate": record.get("dueDate") or record.get("assignDate")}
        return render_record(record, self.allowed(kind), self.bases)

    def check_body(self, schema: str, body: Any) -> None:
        """400 naming every field that breaks the spec schema, not only the first few."""
        problems = self.validators.problems(schema, body)
        if problems:
            described = "; ".join(f"{p.field}: {p.message}" for p in problems)
            raise bad_request(f"request body does not match {schema}: {described}")

    def to_record(self, obj: JSON, where: str) -> Record:
        """A wire object as a neutral record: references reduced to sourcedIds."""
        record: Record = {}
        for key, value in obj.items():
            if key in REF_FIELDS and isinstance(value, dict):
                expected = V1P1_REF_TYPES.get(key)
                if not self.v1p2 and expected and value.get("type") not in expected:
                    raise bad_request(f"{where}.{key}.type must be one of "
                                      f"{sorted(expected)}, got {value.get('type')!r}")
                record[key] = value["sourcedId"]
            else:
                record[key] = value
        if record.get("scoreStatus") == "not submmitted":
            # The 1.1 document's typo, which a 1.1 client may copy; store the real value.
            record["scoreStatus"] = "not submitted"
        record["dateLastModified"] = _now()
        return record


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class GradebookApi:
    """Handlers shared by the 1.1 and 1.2 gradebook services."""

    def __init__(self, store: GradebookStore, rules: GradebookRules, *,
                 allocate_ids: bool = False) -> None:
        self.store = store
        self.rules = rules
        # A SIS that gives each record a bulk POST creates its own sourcedId (the spec
        # allows it; the answer's sourcedIdPairs say which), then serves it by that id only.
        self.allocate_ids = allocate_ids

    def records(self, kind: str, keep: Callable[[Record], bool] | None = None) -> list[Record]:
        """Stored records of a kind, optionally narrowed."""
        return [r for r in self.store.all(kind) if keep is None or keep(r)]

    def get_one(self, service: GradebookService, kind: str, sourced_id: str) -> JSON:
        """GET /{kind}/{id}."""
        record = self.store.get(kind, sourced_id)
        if record is None:
            raise unknown_object(f"{KINDS[kind][0]} '{sourced_id}' does not exist")
        return {KINDS[kind][0]: service.render(kind, record)}

    def put_one(self, service: GradebookService, kind: str, sourced_id: str, body: Any) -> bool:
        """PUT /{kind}/{id}: create or replace; returns True when the object is new."""
        wrapper = KINDS[kind][0]
        service.check_body(service.single_schema(kind), body)
        obj = body[wrapper]
        if obj.get("sourcedId") != sourced_id:
            raise bad_request(f"{wrapper}.sourcedId {obj.get('sourcedId')!r} does not match "
                              f"the path's '{sourced_id}'")
        record = self._checked(kind, service.to_record(obj, wrapper))
        return self.store.put(kind, record)

    def _checked(self, kind: str, record: Record) -> Record:
        existing = self.store.get(kind, record["sourcedId"])
        if kind == "lineItems":
            if existing is not None:
                self.rules.check_delete(kind, existing)  # moving out of a closed window
            return self.rules.check_line_item(record)
        if kind == "results":
            return self.rules.check_result(record)
        return record

    def delete_one(self, kind: str, sourced_id: str) -> None:
        """DELETE /{kind}/{id}."""
        record = self.store.get(kind, sourced_id)
        if record is None:
            raise unknown_object(f"{KINDS[kind][0]} '{sourced_id}' does not exist")
        if kind in ("lineItems", "results"):
            self.rules.check_delete(kind, record)
        self.store.delete(kind, sourced_id)

    def post_many(self, service: GradebookService, kind: str, body: Any,
                  fixed: dict[str, str]) -> JSON:
        """The 1.2 bulk POSTs: every item is checked before any is stored (all or nothing);
        with `allocate_ids`, each stored record gets a sourcedId of the sandbox's.

        `fixed` holds what the path says (``{"class": id}``); an item that says otherwise
        is refused.
        """
        schema = "LineItemSetDType" if kind == "lineItems" else "ResultSetDType"
        service.check_body(schema, body)
        records = []
        for index, obj in enumerate(body[kind]):
            record = service.to_record(obj, f"{kind}[{index}]")
            try:
                checked = self._checked(kind, record)
            except ImsxError as error:
                error.description = f"{kind}[{index}] ({record['sourcedId']}): " \
                                    f"{error.description}"
                raise
            for field, value in fixed.items():
                # The session is checked below against the result's line item.
                if field != "academicSession" and checked.get(field) != value:
                    raise ImsxError(422, "invaliddata", f"{kind}[{index}].{field} "
                                    f"'{checked.get(field)}' differs from the path's '{value}'")
            self._check_session(checked, fixed.get("academicSession"), index)
            records.append(checked)
        pairs = []
        for record in records:
            supplied = record["sourcedId"]
            if self.allocate_ids:
                record = record | {"sourcedId": f"sis-{uuid.uuid4().hex}"}
            self.store.put(kind, record)
            pairs.append({"suppliedSourcedId": supplied,
                          "allocatedSourcedId": record["sourcedId"]})
        return {"sourcedIdPairs": pairs}

    def _check_session(self, result: Record, session: str | None, index: int) -> None:
        if session is None:
            return
        line_item = self.store.get("lineItems", result.get("lineItem", "")) or {}
        if session not in (line_item.get("gradingPeriod"), line_item.get("academicSession")):
            raise ImsxError(422, "invaliddata", f"results[{index}]: line item "
                            f"'{result.get('lineItem')}' is not in academic session '{session}'")
