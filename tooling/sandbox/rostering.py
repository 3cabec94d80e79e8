"""Rostering endpoints as data: one row per path, the client loops never.

Each row names the path (relative to a service base), the roster view it
reads, and how to choose objects from it. Nested paths name their parent so a
missing parent is a 404 rather than an empty page. The same table serves 1.1
(under /ims/oneroster/v1p1) and 1.2 (under /ims/oneroster/rostering/v1p2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tooling.sandbox.render import (
    Bases,
    render_class,
    render_course,
    render_enrollment,
    render_org,
    render_session,
    render_user,
)
from tooling.sandbox.roster import Roster

JSON = dict
Selector = Callable[[Roster, dict[str, str]], list[str]]
# View kind -> (collection wrapper, single-object wrapper, 1.1 schema, 1.2 schema)
VIEW_WRAPPERS = {
    "orgs": ("orgs", "org", "Org.Type", "OrgDType"),
    "academicSessions": ("academicSessions", "academicSession", "AcademicSession.Type",
                         "AcademicSessionDType"),
    "courses": ("courses", "course", "Course.Type", "CourseDType"),
    "classes": ("classes", "class", "Class.Type", "ClassDType"),
    "users": ("users", "user", "User.Type", "UserDType"),
    "enrollments": ("enrollments", "enrollment", "Enrollment.Type", "EnrollmentDType"),
}


@dataclass(frozen=True)
class RosterEndpoint:
    """A rostering GET: path, the view it reads, and the objects it returns."""

    path: str
    view: str
    select: Selector
    parent: tuple[str, str] | None = None  # (view, path parameter) that must exist
    single: bool = False


def _all(view: str) -> Selector:
    return lambda roster, _params: list(getattr(roster, _ATTR[view]))


def _where(view: str, column: str, value: str) -> Selector:
    return lambda roster, _params: [
        sid for sid, row in getattr(roster, _ATTR[view]).items() if row.get(column) == value]


_ATTR = {"orgs": "orgs", "academicSessions": "sessions", "courses": "courses",
         "classes": "classes", "users": "users", "enrollments": "enrollments"}


def _classes_where(test: Callable[[dict, dict[str, str]], bool]) -> Selector:
    return lambda roster, params: [sid for sid, row in roster.classes.items() if test(row, params)]


def _in_class(role: str) -> Selector:
    return lambda roster, params: roster.users_in_class(params["class_id"], role)


def _school_users(role: str) -> Selector:
    return lambda roster, params: [
        sid for sid, row in roster.users.items()
        if row.get("role") == role and params["school_id"] in (row.get("orgSourcedIds") or [])]


def _school_class_enrollments(roster: Roster, params: dict[str, str]) -> list[str]:
    if roster.classes[params["class_id"]].get("schoolSourcedId") != params["school_id"]:
        return []
    return list(roster.enrollments_by_class.get(params["class_id"], ()))


def _school_terms(roster: Roster, params: dict[str, str]) -> list[str]:
    terms: list[str] = []
    for row in roster.classes.values():
        if row.get("schoolSourcedId") == params["school_id"]:
            terms += [t for t in row.get("termSourcedIds") or [] if t not in terms]
    return [t for t in terms if roster.sessions.get(t, {}).get("type") == "term"]


def _single(view: str, test: Callable[[dict], bool] = lambda _row: True) -> Selector:
    def select(roster: Roster, params: dict[str, str]) -> list[str]:
        row = getattr(roster, _ATTR[view]).get(params["id"])
        return [params["id"]] if row is not None and test(row) else []
    return select


def _top_level() -> list[RosterEndpoint]:
    return [
        RosterEndpoint("/orgs", "orgs", _all("orgs")),
        RosterEndpoint("/schools", "orgs", _where("orgs", "type", "school")),
        RosterEndpoint("/academicSessions", "academicSessions", _all("academicSessions")),
        RosterEndpoint("/terms", "academicSessions", _where("academicSessions", "type", "term")),
        RosterEndpoint("/gradingPeriods", "academicSessions",
                       _where("academicSessions", "type", "gradingPeriod")),
        RosterEndpoint("/courses", "courses", _all("courses")),
        RosterEndpoint("/classes", "classes", _all("classes")),
        RosterEndpoint("/users", "users", _all("users")),
        RosterEndpoint("/teachers", "users", _where("users", "role", "teacher")),
        RosterEndpoint("/students", "users", _where("users", "role", "student")),
        RosterEndpoint("/enrollments", "enrollments", _all("enrollments")),
    ]


def _nested() -> list[RosterEndpoint]:
    school, klass = ("orgs", "school_id"), ("classes", "class_id")
    rows = [
        RosterEndpoint("/terms/{term_id}/classes", "classes", _classes_where(
            lambda row, p: p["term_id"] in (row.get("termSourcedIds") or [])),
            ("academicSessions", "term_id")),
        RosterEndpoint("/terms/{term_id}/gradingPeriods", "academicSessions",
                       lambda r, p: [sid for sid, row in r.sessions.items()
                                     if row.get("type") == "gradingPeriod"
                                     and row.get("parentSourcedId") == p["term_id"]],
                       ("academicSessions", "term_id")),
        RosterEndpoint("/courses/{course_id}/classes", "classes", _classes_where(
            lambda row, p: row.get("courseSourcedId") == p["course_id"]),
            ("courses", "course_id")),
        RosterEndpoint("/classes/{class_id}/students", "users", _in_class("student"), klass),
        RosterEndpoint("/classes/{class_id}/teachers", "users", _in_class("teacher"), klass),
        RosterEndpoint("/schools/{school_id}/classes", "classes", _classes_where(
            lambda row, p: row.get("schoolSourcedId") == p["school_id"]), school),
        RosterEndpoint("/schools/{school_id}/courses", "courses",
                       lambda r, p: [sid for sid, row in r.courses.items()
                                     if row.get("orgSourcedId") == p["school_id"]], school),
        RosterEndpoint("/schools/{school_id}/enrollments", "enrollments",
                       lambda r, p: [sid for sid, row in r.enrollments.items()
                                     if row.get("schoolSourcedId") == p["school_id"]], school),
        RosterEndpoint("/schools/{school_id}/students", "users", _school_users("student"), school),
        RosterEndpoint("/schools/{school_id}/teachers", "users", _school_users("teacher"), school),
        RosterEndpoint("/schools/{school_id}/terms", "academicSessions", _school_terms, school),
        RosterEndpoint("/schools/{school_id}/classes/{class_id}/enrollments", "enrollments",
                       _school_class_enrollments, klass),
    ]
    for role in ("students", "teachers"):
        singular = role[:-1]
        rows.append(RosterEndpoint(
            f"/schools/{{school_id}}/classes/{{class_id}}/{role}", "users",
            lambda r, p, s=singular: r.users_in_class(p["class_id"], s)
            if r.classes[p["class_id"]].get("schoolSourcedId") == p["school_id"] else [],
            klass))
    for prefix in ("users", "students", "teachers"):
        rows.append(RosterEndpoint(f"/{prefix}/{{user_id}}/classes", "classes",
                                   lambda r, p: r.classes_of_user(p["user_id"]),
                                   ("users", "user_id")))
    return rows


def _singles() -> list[RosterEndpoint]:
    rows = []
    singles = [("orgs", "orgs", None), ("schools", "orgs", ("type", "school")),
               ("academicSessions", "academicSessions", None),
               ("terms", "academicSessions", ("type", "term")),
               ("gradingPeriods", "academicSessions", ("type", "gradingPeriod")),
               ("courses", "courses", None), ("classes", "classes", None),
               ("users", "users", None), ("teachers", "users", ("role", "teacher")),
               ("students", "users", ("role", "student")), ("enrollments", "enrollments", None)]
    for prefix, view, test in singles:
        check = (lambda row, t=test: row.get(t[0]) == t[1]) if test else (lambda _row: True)
        rows.append(RosterEndpoint(f"/{prefix}/{{id}}", view, _single(view, check), single=True))
    return rows


ROSTER_ENDPOINTS: list[RosterEndpoint] = _top_level() + _nested() + _singles()


def parent_exists(roster: Roster, endpoint: RosterEndpoint, params: dict[str, str]) -> bool:
    """Whether the object a nested path hangs from exists (and, for schools, its class too)."""
    checks = [endpoint.parent] if endpoint.parent else []
    if "school_id" in params:
        checks.append(("orgs", "school_id"))
    return all(params[param] in getattr(roster, _ATTR[view]) for view, param in checks)


def render_views(roster: Roster, bases: Bases, window_open: Callable[[str], bool] | None
                 ) -> dict[str, dict[str, JSON]]:
    """Every roster object rendered once for one API version, keyed by view then sourcedId."""
    org_children: dict[str, list[str]] = {}
    for sid, row in roster.orgs.items():
        if row.get("parentSourcedId"):
            org_children.setdefault(str(row["parentSourcedId"]), []).append(sid)
    session_children: dict[str, list[str]] = {}
    for sid, row in roster.sessions.items():
        if row.get("parentSourcedId"):
            session_children.setdefault(str(row["parentSourcedId"]), []).append(sid)

    def flag(sid: str, row: dict) -> bool | None:
        if window_open is None or row.get("type") != "gradingPeriod":
            return None
        return window_open(sid)

    return {
        "orgs": {sid: render_org(row, org_children.get(sid, []), bases)
                 for sid, row in roster.orgs.items()},
        "academicSessions": {
            sid: render_session(row, session_children.get(sid, []), bases, flag(sid, row))
            for sid, row in roster.sessions.items()},
        "courses": {sid: render_course(row, bases) for sid, row in roster.courses.items()},
        "classes": {sid: render_class(row, bases) for sid, row in roster.classes.items()},
        "users": {sid: render_user(row, bases) for sid, row in roster.users.items()},
        "enrollments": {sid: render_enrollment(row, bases)
                        for sid, row in roster.enrollments.items()},
    }
