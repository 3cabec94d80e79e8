"""The OneRoster collections the pipeline reads and writes, described as data.

One row per entity: the warehouse table it lands in, the service and path per API version,
the response wrapper key (`orgs`), the single-record key (`org`, used by GET/PUT of one
record), the column map that flattens a record, the fields a record must have to be loaded,
and the cursor field for incremental loads. The client loops over this table; adding a
collection is a new row, not a new function. The column map is also the `sis.<entity>`
table's DDL (pipeline/warehouse.py derives it from `arrow_schema`), so this module must not
import the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from pipeline.oneroster.flatten import (
    COMMON_COLUMNS,
    JSON,
    Column,
    day,
    dig,
    flag,
    number,
    ref_ids,
    text,
    user_role,
)

Service = Literal["rostering", "gradebook"]
Version = Literal["1.1", "1.2"]


@dataclass(frozen=True)
class Endpoint:
    """One OneRoster collection and how it maps onto a `sis.*` table."""

    entity: str  # warehouse table name in schema `sis`
    service: Service
    paths: dict[str, str]  # API version -> collection path under the service base
    wrapper_key: str  # key of the record list in a collection response
    record_key: str  # key of the record in a single-record response or PUT body
    columns: dict[str, Column]  # warehouse column -> reader (besides the common ones)
    required: tuple[str, ...] = ("sourcedId",)  # dotted paths a loadable record must have
    cursor_field: str = "dateLastModified"
    page_size: int | None = None  # None: the resource's default
    all_columns: dict[str, Column] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "all_columns", {**COMMON_COLUMNS, **self.columns})

    def path(self, version: str) -> str:
        """The collection path for an API version (`/orgs`)."""
        return self.paths[version]

    @property
    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of flattened records, in warehouse column order.

        A row's identity (district, sourced_id) is never null: a record without a sourcedId
        is quarantined, not loaded. Every other column is nullable.
        """
        columns = [pa.field(name, col.arrow_type, nullable=name != "sourced_id")
                   for name, col in self.all_columns.items()]
        return pa.schema([pa.field("district", pa.string(), nullable=False), *columns])

    def missing_fields(self, record: JSON) -> list[str]:
        """Required fields that are absent or empty in a record."""
        return [path for path in self.required if dig(record, path) in (None, "", [], {})]

    def flatten(self, record: JSON, district: str) -> JSON:
        """One record as a warehouse row."""
        row: JSON = {"district": district}
        for name, column in self.all_columns.items():
            row[name] = column.read(record)
        return row


def _same(path: str) -> dict[str, str]:
    return {"1.1": path, "1.2": path}


ENDPOINTS: dict[str, Endpoint] = {e.entity: e for e in (
    Endpoint("orgs", "rostering", _same("/orgs"), "orgs", "org", {
        "name": text("name"), "type": text("type"), "identifier": text("identifier"),
        "parent_sourced_id": text("parent.sourcedId")}),
    Endpoint("academic_sessions", "rostering", _same("/academicSessions"), "academicSessions",
             "academicSession", {
        "title": text("title"), "type": text("type"), "start_date": day("startDate"),
        "end_date": day("endDate"), "parent_sourced_id": text("parent.sourcedId"),
        "school_year": text("schoolYear"),
        # Infinite Campus's flag: a JSON boolean, or "true"/"false" on some versions.
        "grading_window_open": flag("metadata.gradingWindowOpen")},
        required=("sourcedId", "type")),
    Endpoint("courses", "rostering", _same("/courses"), "courses", "course", {
        "title": text("title"), "course_code": text("courseCode"),
        "school_year_sourced_id": text("schoolYear.sourcedId"),
        "org_sourced_id": text("org.sourcedId")}),
    Endpoint("classes", "rostering", _same("/classes"), "classes", "class", {
        "title": text("title"), "class_code": text("classCode"),
        "class_type": text("classType"), "course_sourced_id": text("course.sourcedId"),
        "school_sourced_id": text("school.sourcedId"), "term_sourced_ids": ref_ids("terms")}),
    Endpoint("users", "rostering", _same("/users"), "users", "user", {
        "enabled_user": flag("enabledUser"), "username": text("username"),
        "given_name": text("givenName"), "family_name": text("familyName"),
        "role": user_role(), "email": text("email"),
        # 1.1 lists `orgs`; 1.2 puts them in `roles[].org` and `primaryOrg`.
        "org_sourced_ids": ref_ids("orgs", "primaryOrg", "roles.org")}),
    Endpoint("enrollments", "rostering", _same("/enrollments"), "enrollments", "enrollment", {
        "class_sourced_id": text("class.sourcedId"),
        "school_sourced_id": text("school.sourcedId"),
        "user_sourced_id": text("user.sourcedId"), "role": text("role"),
        "primary": flag("primary"), "begin_date": day("beginDate"), "end_date": day("endDate")},
        required=("sourcedId", "class.sourcedId", "user.sourcedId", "role")),
    Endpoint("categories", "gradebook", _same("/categories"), "categories", "category", {
        "title": text("title")}),
    Endpoint("line_items", "gradebook", _same("/lineItems"), "lineItems", "lineItem", {
        "title": text("title"), "description": text("description"),
        "assign_date": day("assignDate"), "due_date": day("dueDate"),
        "class_sourced_id": text("class.sourcedId"),
        "category_sourced_id": text("category.sourcedId"),
        "grading_period_sourced_id": text("gradingPeriod.sourcedId"),
        "result_value_min": number("resultValueMin"),
        "result_value_max": number("resultValueMax")},
        required=("sourcedId", "class.sourcedId")),
    Endpoint("results", "gradebook", _same("/results"), "results", "result", {
        "line_item_sourced_id": text("lineItem.sourcedId"),
        "student_sourced_id": text("student.sourcedId"),
        "class_sourced_id": text("class.sourcedId"), "score_status": text("scoreStatus"),
        "score": number("score"), "score_date": day("scoreDate"), "comment": text("comment")},
        required=("sourcedId", "lineItem.sourcedId", "student.sourcedId")),
)}


def endpoint(entity: str) -> Endpoint:
    """The endpoint row for an entity; a clear error naming the known ones."""
    try:
        return ENDPOINTS[entity]
    except KeyError:
        raise KeyError(f"unknown OneRoster entity {entity!r}; known: {sorted(ENDPOINTS)}") from None
