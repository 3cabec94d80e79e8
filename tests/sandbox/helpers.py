"""Names shared by the sandbox tests: the district bundle, tokens and request bodies. Fixtures
live in conftest.py; tests import names from here, never from a conftest."""

from __future__ import annotations

from typing import Any

import requests

from tooling.sandbox import SandboxSIS

SCHOOL_YEAR = "sy-2027"
TERMS = {"term-fall": ("2026-08-17", "2026-12-18"), "term-spring": ("2027-01-04", "2027-05-28")}
GRADING_PERIODS = {  # id -> (title, start, end, term)
    "gp-q1": ("Q1", "2026-08-17", "2026-10-16", "term-fall"),
    "gp-q2": ("Q2", "2026-10-19", "2026-12-18", "term-fall"),
    "gp-q3": ("Q3", "2027-01-04", "2027-03-12", "term-spring"),
    "gp-q4": ("Q4", "2027-03-15", "2027-05-28", "term-spring"),
}
STUDENTS = {"stu-1": "sch-north", "stu-2": "sch-north", "stu-3": "sch-north",
            "stu-4": "sch-north", "stu-5": "sch-south", "stu-6": "sch-south"}
CLASSES = {  # id -> (school, course, terms, teacher, students)
    "cls-alg": ("sch-north", "crs-math", ["term-fall"], "tch-ada", ["stu-1", "stu-2", "stu-3"]),
    "cls-bio": ("sch-north", "crs-sci", ["term-fall", "term-spring"], "tch-ada",
                ["stu-1", "stu-4"]),
    "cls-chem": ("sch-south", "crs-chem", ["term-spring"], "tch-bo", ["stu-5", "stu-6"]),
}
DROPPED = ("cls-alg", "stu-3")  # an enrollment with status tobedeleted
SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/"


def district_tables() -> dict[str, list[dict[str, Any]]]:
    """Two schools, a school year, two terms, four grading periods and a few classes."""
    sessions = [{"sourcedId": SCHOOL_YEAR, "title": "2026-27", "type": "schoolYear",
                 "startDate": "2026-08-01", "endDate": "2027-06-30", "schoolYear": "2027"}]
    sessions += [{"sourcedId": term, "title": term, "type": "term", "startDate": start,
                  "endDate": end, "parentSourcedId": SCHOOL_YEAR, "schoolYear": "2027"}
                 for term, (start, end) in TERMS.items()]
    sessions += [{"sourcedId": gp, "title": title, "type": "gradingPeriod", "startDate": start,
                  "endDate": end, "parentSourcedId": term, "schoolYear": "2027"}
                 for gp, (title, start, end, term) in GRADING_PERIODS.items()]
    users = [{"sourcedId": "tch-ada", "enabledUser": "true", "orgSourcedIds": ["sch-north"],
              "role": "teacher", "username": "ada", "givenName": "Ada", "familyName": "Lovelace",
              "userIds": ["{Fed:T1}"], "email": "ada@example.org"},
             {"sourcedId": "tch-bo", "enabledUser": "true", "orgSourcedIds": ["sch-south"],
              "role": "teacher", "username": "bo", "givenName": "Bo", "familyName": "Diddley"},
             {"sourcedId": "adm-1", "enabledUser": "true", "orgSourcedIds": ["dist"],
              "role": "administrator", "username": "admin", "givenName": "Al",
              "familyName": "Admin"}]
    users += [{"sourcedId": sid, "enabledUser": "true", "orgSourcedIds": [school],
               "role": "student", "username": sid, "givenName": "Student",
               "familyName": sid.upper(), "grades": ["09"]} for sid, school in STUDENTS.items()]
    enrollments = []
    for class_id, (school, _course, _terms, teacher, students) in CLASSES.items():
        enrollments.append({"sourcedId": f"enr-{class_id}-{teacher}", "classSourcedId": class_id,
                            "schoolSourcedId": school, "userSourcedId": teacher,
                            "role": "teacher", "primary": "true"})
        enrollments += [{"sourcedId": f"enr-{class_id}-{student}", "classSourcedId": class_id,
                         "schoolSourcedId": school, "userSourcedId": student, "role": "student",
                         "primary": "false",
                         "status": "tobedeleted" if (class_id, student) == DROPPED else ""}
                        for student in students]
    return {
        "orgs": [{"sourcedId": "dist", "name": "Lakeside USD", "type": "district",
                  "identifier": "D1"},
                 {"sourcedId": "sch-north", "name": "North High", "type": "school",
                  "identifier": "N", "parentSourcedId": "dist"},
                 {"sourcedId": "sch-south", "name": "South High", "type": "school",
                  "identifier": "S", "parentSourcedId": "dist"}],
        "academicSessions": sessions,
        "courses": [{"sourcedId": course, "title": course, "courseCode": course.upper(),
                     "orgSourcedId": school, "schoolYearSourcedId": SCHOOL_YEAR}
                    for course, school in (("crs-math", "sch-north"), ("crs-sci", "sch-north"),
                                           ("crs-chem", "sch-south"))],
        "classes": [{"sourcedId": cid, "title": cid, "courseSourcedId": course,
                     "classCode": cid.upper(), "classType": "scheduled", "schoolSourcedId": school,
                     "termSourcedIds": terms, "periods": ["1", "2"]}
                    for cid, (school, course, terms, _t, _s) in CLASSES.items()],
        "users": users,
        "enrollments": enrollments,
        "categories": [{"sourcedId": "cat-hw", "title": "Homework"},
                       {"sourcedId": "cat-test", "title": "Test"},
                       {"sourcedId": "cat-retired", "title": "Old", "status": "tobedeleted"}],
    }


def token(sis: SandboxSIS, *scopes: str) -> str:
    """An OAuth 2 client-credentials token (all scopes when none are named)."""
    data = {"grant_type": "client_credentials"}
    if scopes:
        data["scope"] = " ".join(SCOPE + s for s in scopes)
    response = requests.post(sis.token_url, data=data, timeout=5,
                             auth=(sis.credentials.client_id, sis.credentials.client_secret))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def session_for(sis: SandboxSIS, *scopes: str, vendor: bool = True) -> requests.Session:
    """A keep-alive session with a bearer token (and the IC vendor header)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token(sis, *scopes)}"
    if vendor:
        creds = sis.credentials
        session.headers["x-vendor-authorization"] = f"{creds.vendor_key}:{creds.vendor_secret}"
    return session


def ref(kind: str, sourced_id: str) -> dict[str, str]:
    """A GUIDRef as a client sends it."""
    return {"href": f"https://sis.example/{kind}/{sourced_id}", "sourcedId": sourced_id,
            "type": kind}


def line_item_12(sourced_id: str, *, class_id: str = "cls-alg", school: str = "sch-north",
                 assign: str = "2026-11-02T08:00:00-06:00",
                 due: str = "2026-11-09T23:59:00-06:00", **fields: Any) -> dict[str, Any]:
    """A OneRoster 1.2 PUT body for a line item (defaults sit in open Q2)."""
    item = {"sourcedId": sourced_id, "status": "active",
            "dateLastModified": "2026-11-02T08:00:00Z", "title": f"Quiz {sourced_id}",
            "assignDate": assign, "dueDate": due, "class": ref("class", class_id),
            "school": ref("org", school), "category": ref("category", "cat-hw"),
            "resultValueMin": 0, "resultValueMax": 10}
    return {"lineItem": item | fields}


def result_12(sourced_id: str, line_item: str, student: str, score: float = 8,
              **fields: Any) -> dict[str, Any]:
    """A OneRoster 1.2 PUT body for a result."""
    result = {"sourcedId": sourced_id, "status": "active",
              "dateLastModified": "2026-11-03T08:00:00Z", "lineItem": ref("lineItem", line_item),
              "student": ref("user", student), "scoreStatus": "fully graded", "score": score,
              "scoreDate": "2026-11-03"}
    return {"result": result | fields}


def line_item_11(sourced_id: str, **fields: Any) -> dict[str, Any]:
    """A OneRoster 1.1 PUT body for a line item (1.1 has no school and needs resultValueMin)."""
    item = line_item_12(sourced_id)["lineItem"]
    del item["school"]
    return {"lineItem": item | fields}


def result_11(sourced_id: str, line_item: str, student: str, score: float = 8,
              **fields: Any) -> dict[str, Any]:
    """A OneRoster 1.1 PUT body for a result (scoreStatus uses the spec's real spelling)."""
    return result_12(sourced_id, line_item, student, score, **fields)
