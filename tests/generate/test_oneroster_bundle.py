"""The SIS bundle is standard OneRoster 1.1 CSV and its references resolve."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.generate.helpers import read_csv
from tooling.generate import GeneratedDistrict

# The OneRoster 1.1 CSV binding's headers, written out here independently of the generator.
HEADERS_1_1 = {
    "orgs": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "academicSessions": "sourcedId,status,dateLastModified,title,type,startDate,endDate,"
                        "parentSourcedId,schoolYear",
    "courses": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,"
               "orgSourcedId,subjects,subjectCodes",
    "classes": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,"
               "classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",
    "users": "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,"
             "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,"
             "password",
    "enrollments": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,"
                   "userSourcedId,role,primary,beginDate,endDate",
    "categories": "sourcedId,status,dateLastModified,title",
}


@pytest.fixture(scope="module")
def bundle(campus: GeneratedDistrict) -> dict[str, pd.DataFrame]:
    return {name: read_csv(campus.oneroster_dir / f"{name}.csv") for name in HEADERS_1_1}


def test_headers_are_the_1_1_binding(campus: GeneratedDistrict) -> None:
    for name, header in HEADERS_1_1.items():
        first_line = (campus.oneroster_dir / f"{name}.csv").read_text().splitlines()[0]
        assert first_line == header, name


def test_manifest_declares_every_file(campus: GeneratedDistrict) -> None:
    manifest = dict(read_csv(campus.oneroster_dir / "manifest.csv").values.tolist())
    assert manifest["manifest.version"] == "1.0" and manifest["oneroster.version"] == "1.1"
    for name in HEADERS_1_1:
        expected = "delta" if name == "categories" else "bulk"
        assert manifest[f"file.{name}"] == expected, name
    assert manifest["file.results"] == "absent" and manifest["file.lineItems"] == "absent"


def test_status_blank_in_bulk_and_set_in_delta(bundle: dict[str, pd.DataFrame]) -> None:
    for name, frame in bundle.items():
        if name == "categories":
            assert set(frame["status"]) == {"active", "tobedeleted"}
            assert (frame["dateLastModified"] != "").all()
        else:
            assert set(frame["status"]) == {""} and set(frame["dateLastModified"]) == {""}, name


def test_keys_are_unique(bundle: dict[str, pd.DataFrame]) -> None:
    for name, frame in bundle.items():
        assert frame["sourcedId"].is_unique, name


def test_references_resolve(bundle: dict[str, pd.DataFrame]) -> None:
    orgs, sessions = bundle["orgs"], bundle["academicSessions"]
    courses, classes = bundle["courses"], bundle["classes"]
    users, enrollments = bundle["users"], bundle["enrollments"]
    assert (orgs["type"] == "district").sum() == 1 and (orgs["type"] == "school").sum() >= 2
    assert set(orgs.query("type == 'school'")["parentSourcedId"]) <= set(orgs["sourcedId"])
    assert set(courses["orgSourcedId"]) <= set(orgs["sourcedId"])
    assert set(courses["schoolYearSourcedId"]) <= set(sessions["sourcedId"])
    assert set(classes["courseSourcedId"]) <= set(courses["sourcedId"])
    assert set(classes["schoolSourcedId"]) <= set(orgs["sourcedId"])
    terms = set(sessions.query("type == 'term'")["sourcedId"])
    for cell in classes["termSourcedIds"]:
        assert set(cell.split(",")) <= terms
    assert set(enrollments["classSourcedId"]) <= set(classes["sourcedId"])
    assert set(enrollments["userSourcedId"]) <= set(users["sourcedId"])
    assert set(enrollments["role"]) == {"teacher", "student"}


def test_sessions_nest_year_terms_quarters(bundle: dict[str, pd.DataFrame]) -> None:
    sessions = bundle["academicSessions"].set_index("sourcedId")
    kinds = sessions["type"].value_counts().to_dict()
    assert kinds == {"schoolYear": 1, "term": 2, "gradingPeriod": 4}
    for sid, row in sessions.iterrows():
        if row["type"] == "schoolYear":
            assert row["parentSourcedId"] == ""
            continue
        parent = sessions.loc[row["parentSourcedId"]]
        assert parent["type"] == ("schoolYear" if row["type"] == "term" else "term"), sid
        assert parent["startDate"] <= row["startDate"] <= row["endDate"] <= parent["endDate"]


def test_classes_are_year_long_or_one_semester(campus: GeneratedDistrict) -> None:
    text = (campus.oneroster_dir / "classes.csv").read_text()
    assert ',"sy2026-s1,sy2026-s2",' in text  # one quoted cell holds both terms
    classes = read_csv(campus.oneroster_dir / "classes.csv")
    spans = classes["termSourcedIds"].str.count(",").value_counts().to_dict()
    assert spans.get(0, 0) > 0 and spans.get(1, 0) > 0
