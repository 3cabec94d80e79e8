"""Turning roster rows and gradebook records into OneRoster 1.1 or 1.2 JSON.

Two API versions, one data set: the renderer knows each version's shapes
(GUIDRef `type` values, booleans as JSON booleans in 1.1 and as strings in
1.2, `roles` in 1.2 users) and which base URL each `href` points at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tooling.sandbox.roster import Row

JSON = dict[str, Any]

# Gradebook record field -> (1.2 GUIDRef type, collection path, lives in the gradebook service)
REF_FIELDS: dict[str, tuple[str, str, bool]] = {
    "class": ("class", "classes", False),
    "school": ("org", "orgs", False),
    "student": ("user", "users", False),
    "category": ("category", "categories", True),
    "gradingPeriod": ("academicSession", "academicSessions", False),
    "academicSession": ("academicSession", "academicSessions", False),
    "scoreScale": ("scoreScale", "scoreScales", True),
    "lineItem": ("lineItem", "lineItems", True),
}
# 1.1 user/enrollment roles outside 1.2's enum travel as "ext:" values.
V1P2_ENROLLMENT_ROLES = {"administrator", "proctor", "student", "teacher"}
V1P2_USER_ROLE = {"administrator": "siteAdministrator"}


@dataclass(frozen=True)
class Bases:
    """Base URLs hrefs point at for one API version."""

    roster: str
    gradebook: str
    v1p2: bool

    def ref(self, kind: str, collection: str, sourced_id: str, gradebook: bool = False) -> JSON:
        """A GUIDRef to an object in this version's shape."""
        base = self.gradebook if gradebook else self.roster
        return {"href": f"{base}/{collection}/{sourced_id}", "sourcedId": sourced_id,
                "type": kind}

    def flag(self, value: object) -> bool | str:
        """A CSV boolean as 1.1 wants it (JSON bool) or as 1.2 wants it ("true"/"false")."""
        truth = str(value).strip().lower() in {"true", "1", "yes"}
        if self.v1p2:
            return "true" if truth else "false"
        return truth


def _base(row: Row) -> JSON:
    return {"sourcedId": row["sourcedId"], "status": row["status"],
            "dateLastModified": row["dateLastModified"]}


def _copy_present(target: JSON, row: Row, *columns: str) -> None:
    """Copy columns that have a value; OneRoster omits empty optional fields."""
    for column in columns:
        value = row.get(column)
        if value not in (None, "", []):
            target[column] = value


def render_org(row: Row, children: list[str], bases: Bases) -> JSON:
    """An org (district, school...)."""
    org = _base(row) | {"name": row.get("name", ""), "type": row.get("type", "school"),
                        "identifier": row.get("identifier", "")}
    if row.get("parentSourcedId"):
        org["parent"] = bases.ref("org", "orgs", str(row["parentSourcedId"]))
    if children:
        org["children"] = [bases.ref("org", "orgs", child) for child in children]
    return org


def render_session(row: Row, children: list[str], bases: Bases,
                   window_open: bool | None) -> JSON:
    """An academicSession; `window_open` adds Infinite Campus's grading-window flag."""
    session = _base(row) | {key: row.get(key, "") for key in
                            ("title", "startDate", "endDate", "type", "schoolYear")}
    if row.get("parentSourcedId"):
        session["parent"] = bases.ref("academicSession", "academicSessions",
                                      str(row["parentSourcedId"]))
    if children:
        session["children"] = [bases.ref("academicSession", "academicSessions", c)
                               for c in children]
    if window_open is not None:
        session["metadata"] = {"gradingWindowOpen": window_open}
    return session


def render_course(row: Row, bases: Bases) -> JSON:
    """A course."""
    course = _base(row) | {"title": row.get("title", ""), "courseCode": row.get("courseCode", "")}
    if row.get("schoolYearSourcedId"):
        course["schoolYear"] = bases.ref("academicSession", "academicSessions",
                                         str(row["schoolYearSourcedId"]))
    if row.get("orgSourcedId"):
        course["org"] = bases.ref("org", "orgs", str(row["orgSourcedId"]))
    _copy_present(course, row, "grades", "subjects", "subjectCodes")
    return course


def render_class(row: Row, bases: Bases) -> JSON:
    """A class (section)."""
    klass = _base(row) | {"title": row.get("title", "")}
    _copy_present(klass, row, "classCode", "classType", "location", "grades", "subjects",
                  "subjectCodes")
    klass["course"] = bases.ref("course", "courses", str(row.get("courseSourcedId", "")))
    klass["school"] = bases.ref("org", "orgs", str(row.get("schoolSourcedId", "")))
    klass["terms"] = [bases.ref("academicSession", "academicSessions", term)
                      for term in row.get("termSourcedIds") or []]  # type: ignore[union-attr]
    periods = row.get("periods") or []
    if periods:
        # 1.1 binds periods as one comma-separated string, 1.2 as an array.
        klass["periods"] = list(periods) if bases.v1p2 else ",".join(periods)  # type: ignore
    return klass


def _user_ids(row: Row) -> list[JSON]:
    """CSV userIds cells look like ``{Fed:1234}``."""
    ids = []
    for item in row.get("userIds") or []:  # type: ignore[union-attr]
        kind, _, identifier = str(item).strip("{}").partition(":")
        ids.append({"type": kind, "identifier": identifier})
    return ids


def render_user(row: Row, bases: Bases) -> JSON:
    """A user; 1.1 has `role` and `orgs`, 1.2 has `roles` and `primaryOrg`."""
    orgs = list(row.get("orgSourcedIds") or [])  # type: ignore[call-overload]
    role = str(row.get("role", "student"))
    user = _base(row) | {"username": row.get("username", ""),
                         "enabledUser": bases.flag(row.get("enabledUser", "true")),
                         "givenName": row.get("givenName", ""),
                         "familyName": row.get("familyName", "")}
    if bases.v1p2:
        user["roles"] = [
            {"roleType": "primary" if index == 0 else "secondary",
             "role": V1P2_USER_ROLE.get(role, role), "org": bases.ref("org", "orgs", org)}
            for index, org in enumerate(orgs)
        ]
        if orgs:
            user["primaryOrg"] = bases.ref("org", "orgs", orgs[0])
    else:
        user["role"] = role
        user["orgs"] = [bases.ref("org", "orgs", org) for org in orgs]
    if row.get("userIds"):
        user["userIds"] = _user_ids(row)
    _copy_present(user, row, "middleName", "identifier", "email", "sms", "phone", "grades")
    if row.get("agentSourcedIds"):
        user["agents"] = [bases.ref("user", "users", agent)
                          for agent in row["agentSourcedIds"]]  # type: ignore[union-attr]
    return user


def render_enrollment(row: Row, bases: Bases) -> JSON:
    """An enrollment of a user in a class."""
    role = str(row.get("role", "student"))
    if bases.v1p2 and role not in V1P2_ENROLLMENT_ROLES:
        role = f"ext:{role}"
    enrollment = _base(row) | {
        "user": bases.ref("user", "users", str(row["userSourcedId"])),
        "class": bases.ref("class", "classes", str(row["classSourcedId"])),
        "school": bases.ref("org", "orgs", str(row.get("schoolSourcedId", ""))),
        "role": role,
    }
    if row.get("primary"):
        enrollment["primary"] = bases.flag(row["primary"])
    _copy_present(enrollment, row, "beginDate", "endDate")
    return enrollment


def render_record(record: JSON, allowed: frozenset[str], bases: Bases) -> JSON:
    """A gradebook record (category, lineItem, result) in one version's shape.

    Records store references as bare sourcedIds; fields the version does not
    define are left out, so a line item written over 1.2 still reads as valid 1.1.
    """
    rendered: JSON = {}
    for key, value in record.items():
        if key not in allowed or value is None:
            continue
        if key in REF_FIELDS:
            kind, collection, gradebook = REF_FIELDS[key]
            rendered[key] = bases.ref(kind, collection, str(value), gradebook)
        else:
            rendered[key] = value
    return rendered
