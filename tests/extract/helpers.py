"""The extract tests' small district, written here rather than by the generator so each test
knows exactly what it should find: 40 students in 4 classes, one enrollment marked
`tobedeleted`, one enrollment without a user (to be quarantined), 2 line items and their
results; the Otus export in each format, and district files pointing at a sandbox.

Tests import these names from here; fixtures live in conftest.py."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import yaml

from pipeline.config import DistrictConfig, load_district_file
from tooling.sandbox import SandboxSIS

DISTRICT = "testdistrict"
STUDENTS = 40
CLASSES = 4
MODIFIED = "2026-07-01T00:00:00.000Z"
LATER = "2026-09-01T00:00:00.000Z"
SECRET_ENV = {
    "oauth1_key": "T_OAUTH1_KEY", "oauth1_secret": "T_OAUTH1_SECRET",
    "client_id": "T_CLIENT_ID", "client_secret": "T_CLIENT_SECRET",
    "vendor_key": "T_VENDOR_KEY", "vendor_secret": "T_VENDOR_SECRET",
}


def roster_tables(students: int = STUDENTS) -> dict[str, list[dict[str, object]]]:
    """The district's OneRoster 1.1 CSV bundle, as rows."""
    enrollments: list[dict[str, object]] = [
        {"sourcedId": f"enr-{s}", "classSourcedId": f"class-{s % CLASSES}",
         "schoolSourcedId": "school", "userSourcedId": f"student-{s}", "role": "student",
         "primary": "false", "dateLastModified": MODIFIED} for s in range(students)]
    enrollments += [
        {"sourcedId": f"enr-t{c}", "classSourcedId": f"class-{c}", "schoolSourcedId": "school",
         "userSourcedId": "teacher-1", "role": "teacher", "primary": "true",
         "dateLastModified": MODIFIED} for c in range(CLASSES)]
    enrollments += [
        {"sourcedId": "enr-gone", "status": "tobedeleted", "classSourcedId": "class-0",
         "schoolSourcedId": "school", "userSourcedId": "student-1", "role": "student",
         "dateLastModified": LATER},
        {"sourcedId": "enr-broken", "classSourcedId": "class-1", "schoolSourcedId": "school",
         "userSourcedId": "", "role": "student", "dateLastModified": MODIFIED},
    ]
    users = [{"sourcedId": f"student-{s}", "enabledUser": "true", "orgSourcedIds": ["school"],
              "role": "student", "username": f"s{s}", "givenName": "Stu",
              "familyName": f"Dent{s}", "dateLastModified": MODIFIED} for s in range(students)]
    users.append({"sourcedId": "teacher-1", "enabledUser": "true", "orgSourcedIds": ["school"],
                  "role": "teacher", "username": "t1", "givenName": "Tea",
                  "familyName": "Cher", "email": "t1@example.org",
                  "dateLastModified": MODIFIED})
    return {
        "orgs": [{"sourcedId": "dist", "name": "District", "type": "district", "identifier": "D"},
                 {"sourcedId": "school", "name": "School", "type": "school", "identifier": "S",
                  "parentSourcedId": "dist"}],
        "academicSessions": [
            {"sourcedId": "year", "title": "2026-27", "type": "schoolYear",
             "startDate": "2026-08-01", "endDate": "2027-06-30", "schoolYear": "2027"},
            {"sourcedId": "term", "title": "Year", "type": "term", "startDate": "2026-08-01",
             "endDate": "2027-06-30", "parentSourcedId": "year", "schoolYear": "2027"},
            {"sourcedId": "gp1", "title": "Q1", "type": "gradingPeriod",
             "startDate": "2026-08-01", "endDate": "2026-10-31", "parentSourcedId": "term",
             "schoolYear": "2027"},
            {"sourcedId": "gp2", "title": "Q2", "type": "gradingPeriod",
             "startDate": "2026-11-01", "endDate": "2027-01-31", "parentSourcedId": "term",
             "schoolYear": "2027"}],
        "courses": [{"sourcedId": "course", "title": "Math", "courseCode": "M1",
                     "schoolYearSourcedId": "year", "orgSourcedId": "school"}],
        "classes": [{"sourcedId": f"class-{c}", "title": f"Math {c}", "courseSourcedId": "course",
                     "schoolSourcedId": "school", "termSourcedIds": ["term"],
                     "classType": "scheduled", "classCode": f"M1-{c}"} for c in range(CLASSES)],
        "users": users,
        "enrollments": enrollments,
        "categories": [{"sourcedId": "cat-hw", "title": "Homework"},
                       {"sourcedId": "cat-test", "title": "Tests"}],
        "lineItems": [
            {"sourcedId": f"li-{n}", "title": f"Quiz {n}", "assignDate": "2026-09-01",
             "dueDate": "2026-09-08", "classSourcedId": "class-0",
             "categorySourcedId": "cat-hw", "gradingPeriodSourcedId": "gp1",
             "resultValueMin": "0", "resultValueMax": "10"} for n in (1, 2)],
        "results": [
            {"sourcedId": f"res-{s}", "lineItemSourcedId": "li-1",
             "studentSourcedId": f"student-{s}", "scoreStatus": "fully graded",
             "score": str(s % 10), "scoreDate": "2026-09-09"}
            for s in range(0, students, CLASSES)],
    }


OTUS_ROWS: dict[str, list[dict[str, Any]]] = {
    "users": [
        {"user_id": "u-t1", "sis_sourced_id": "teacher-1", "role": "teacher",
         "given_name": "Tea", "family_name": "Cher", "email": "t1@example.org"},
        {"user_id": "u-admin", "sis_sourced_id": "", "role": "administrator",
         "given_name": "Ad", "family_name": "Min", "email": ""},
    ],
    "passback_group": [{"user_id": "u-t1", "added_at": "2026-08-01T08:00:00Z"}],
    "assessments": [
        {"assessment_id": "a-1", "title": "Fractions quiz", "assessment_type": "Quiz",
         "grading_method": "points", "points_possible": "10", "include_in_final_grade": "true",
         "created_by": "u-t1", "updated_at": "2026-09-01T10:00:00Z", "deleted_at": ""},
        {"assessment_id": "a-2", "title": "Lab report", "assessment_type": "Lab",
         "grading_method": "standards", "points_possible": "8.5",
         "include_in_final_grade": "0", "created_by": "u-t1",
         "updated_at": "2026-09-02T10:00:00", "deleted_at": ""},
    ],
    "class_assignments": [
        {"assignment_id": "ca-1", "assessment_id": "a-1", "class_sourced_id": "class-0",
         "assigned_by": "u-t1", "assigned_at": "2026-09-01T09:00:00-05:00", "go_live_at": "",
         "due_at": "2026-09-08T23:59:00", "updated_at": "2026-09-01T10:00:00Z",
         "deleted_at": ""},
    ],
    "scores": [
        {"assignment_id": "ca-1", "student_sourced_id": f"student-{s}", "status": "graded",
         "points_earned": str(s % 10 + 0.5), "excluded": "false", "late": "1", "missing": "0",
         "graded_at": "2026-09-09T12:00:00Z", "comment": "", "updated_at": "2026-09-09T12:00:00Z"}
        for s in range(0, STUDENTS, CLASSES)
    ],
}


def write_otus_export(folder: Path, fmt: str = "csv",
                      rows: dict[str, list[dict[str, Any]]] | None = None) -> Path:
    """Write the Otus export in one format (csv, jsonl or parquet)."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    for entity, records in (rows or OTUS_ROWS).items():
        for old in folder.glob(f"{entity}.*"):
            old.unlink()
        path = folder / f"{entity}.{fmt}"
        if fmt == "csv":
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(records[0]))
                writer.writeheader()
                writer.writerows(records)
        elif fmt == "jsonl":
            path.write_text("".join(json.dumps({k: (v if v != "" else None)
                                                for k, v in r.items()}) + "\n"
                                    for r in records), encoding="utf-8")
        else:
            pd.DataFrame(records).replace("", None).to_parquet(path)
    return folder


def district_yaml(folder: Path, sis: SandboxSIS, *, version: str = "1.2",
                  auth: str = "oauth2", profile: str | None = None,
                  export: Path | None = None, signature_method: str = "HMAC-SHA256",
                  base_url: str | None = None, token_url: str | None = None) -> Path:
    """Write `<folder>/testdistrict.yaml` for a sandbox; return the file."""
    profile = profile or sis.profile.name
    auth_block: dict[str, Any] = (
        {"kind": "oauth1", "signature_method": signature_method,
         "key_env": SECRET_ENV["oauth1_key"], "secret_env": SECRET_ENV["oauth1_secret"]}
        if auth == "oauth1" else
        {"kind": "oauth2", "token_url": token_url or sis.token_url,
         "client_id_env": SECRET_ENV["client_id"],
         "client_secret_env": SECRET_ENV["client_secret"]})
    document: dict[str, Any] = {
        "district": DISTRICT, "time_zone": "America/Chicago",
        "sis": {"profile": profile, "oneroster_version": version,
                "base_url": base_url or f"{sis.url}/ims/oneroster", "auth": auth_block,
                "budget": {"max_concurrency": 4, "max_requests_per_second": 1000}},
        "passback": {"effective_date": "2026-08-17"},
        "categories": {t: "cat-hw" for t in (
            "Test", "Quiz", "Homework", "Classwork", "Project", "Lab", "Essay", "Presentation",
            "Performance Task", "Benchmark", "Exit Ticket", "Participation")},
        "otus": {"export": str(export or folder / "otus")},
    }
    if version == "1.2" and profile == "infinite_campus":
        document["sis"]["vendor"] = {"key_env": SECRET_ENV["vendor_key"],
                                     "secret_env": SECRET_ENV["vendor_secret"]}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{DISTRICT}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def line_item(title: str, rostering: str, gradebook: str) -> dict[str, Any]:
    """A OneRoster 1.2 line item body (what the sink will send), for class-1."""
    def ref(base: str, collection: str, sourced_id: str, kind: str) -> dict[str, str]:
        return {"href": f"{base}/{collection}/{sourced_id}", "sourcedId": sourced_id,
                "type": kind}
    return {"status": "active", "dateLastModified": "2026-09-10T00:00:00.000Z",
            # date-times, as the spec declares them (the sandbox refuses a bare date)
            "title": title, "assignDate": "2026-09-10T08:00:00.000Z",
            "dueDate": "2026-09-17T23:59:00.000Z",
            "class": ref(rostering, "classes", "class-1", "class"),
            "school": ref(rostering, "orgs", "school", "org"),
            "category": ref(gradebook, "categories", "cat-hw", "category"),
            "resultValueMin": 0.0, "resultValueMax": 20.0}


def config_for(folder: Path, sis: SandboxSIS, **kwargs: Any) -> DistrictConfig:
    """A validated district config for a sandbox."""
    return load_district_file(district_yaml(folder, sis, **kwargs))
