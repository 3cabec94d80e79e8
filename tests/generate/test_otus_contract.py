"""The Otus files meet ../shared/otus-gradebook-export.md: columns, types, enums, keys."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.generate.helpers import read_csv
from tooling.generate import GeneratedDistrict

# entity -> (required columns, all columns, key)
CONTRACT = {
    "users": (["user_id", "role"],
              ["user_id", "sis_sourced_id", "role", "given_name", "family_name", "email"],
              ["user_id"]),
    "passback_group": (["user_id", "added_at"], ["user_id", "added_at"], ["user_id"]),
    "assessments": (
        ["assessment_id", "title", "assessment_type", "grading_method",
         "include_in_final_grade", "created_by", "updated_at"],
        ["assessment_id", "title", "assessment_type", "grading_method", "points_possible",
         "include_in_final_grade", "created_by", "updated_at", "deleted_at"],
        ["assessment_id"]),
    "class_assignments": (
        ["assignment_id", "assessment_id", "class_sourced_id", "assigned_by", "assigned_at",
         "updated_at"],
        ["assignment_id", "assessment_id", "class_sourced_id", "assigned_by", "assigned_at",
         "go_live_at", "due_at", "updated_at", "deleted_at"],
        ["assignment_id"]),
    "scores": (
        ["assignment_id", "student_sourced_id", "status", "excluded", "updated_at"],
        ["assignment_id", "student_sourced_id", "status", "points_earned", "excluded", "late",
         "missing", "graded_at", "comment", "updated_at"],
        ["assignment_id", "student_sourced_id"]),
}
TIMESTAMPS = {"passback_group": ["added_at"], "assessments": ["updated_at", "deleted_at"],
              "class_assignments": ["assigned_at", "go_live_at", "due_at", "updated_at",
                                    "deleted_at"],
              "scores": ["graded_at", "updated_at"]}
BOOLEANS = {"assessments": ["include_in_final_grade"], "scores": ["excluded", "late", "missing"]}
DECIMALS = {"assessments": ["points_possible"], "scores": ["points_earned"]}
ENUMS = {("users", "role"): {"teacher", "administrator", "student"},
         ("assessments", "grading_method"): {"points", "standards"},
         ("scores", "status"): {"not_submitted", "in_progress", "submitted", "graded"}}
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


@pytest.fixture(scope="module")
def otus(campus: GeneratedDistrict) -> dict[str, pd.DataFrame]:
    return {entity: read_csv(campus.otus_dir / f"{entity}.csv") for entity in CONTRACT}


@pytest.mark.parametrize("entity", sorted(CONTRACT))
def test_columns_required_values_and_keys(otus: dict[str, pd.DataFrame], entity: str) -> None:
    required, columns, key = CONTRACT[entity]
    frame = otus[entity]
    assert list(frame.columns) == columns
    assert len(frame) > 0
    for column in required:
        assert (frame[column] != "").all(), f"{entity}.{column} has empty required values"
    assert not frame.duplicated(key).any(), f"{entity}: duplicate key {key}"


@pytest.mark.parametrize("entity", sorted(TIMESTAMPS))
def test_timestamps_are_iso_with_offset_or_z(otus: dict[str, pd.DataFrame], entity: str) -> None:
    for column in TIMESTAMPS[entity]:
        values = otus[entity][column]
        values = values[values != ""]
        bad = values[~values.str.match(ISO_WITH_OFFSET)]
        assert bad.empty, f"{entity}.{column}: {bad.head().tolist()}"
        pd.to_datetime(values, utc=True, format="ISO8601")  # raises on a value that is no time


def test_both_z_and_offsets_are_used(otus: dict[str, pd.DataFrame]) -> None:
    assigned = otus["class_assignments"]["assigned_at"]
    assert assigned.str.endswith("Z").any()
    assert assigned.str.contains(r"-0[56]:00$").any()  # CDT and CST both occur


def test_booleans_decimals_and_enums_parse(otus: dict[str, pd.DataFrame]) -> None:
    for entity, columns in BOOLEANS.items():
        for column in columns:
            assert set(otus[entity][column]) <= {"true", "false", ""}, f"{entity}.{column}"
    for entity, columns in DECIMALS.items():
        for column in columns:
            values = otus[entity][column]
            pd.to_numeric(values[values != ""], errors="raise")
    for (entity, column), allowed in ENUMS.items():
        assert set(otus[entity][column]) <= allowed, f"{entity}.{column}"


def test_references_resolve(otus: dict[str, pd.DataFrame]) -> None:
    users = set(otus["users"]["user_id"])
    assert set(otus["passback_group"]["user_id"]) <= users
    assert set(otus["assessments"]["created_by"]) <= users
    assert set(otus["class_assignments"]["assigned_by"]) <= users
    assessments = set(otus["assessments"]["assessment_id"])
    assert set(otus["class_assignments"]["assessment_id"]) <= assessments
    assert set(otus["scores"]["assignment_id"]) <= set(otus["class_assignments"]["assignment_id"])
    students = otus["users"].query("role == 'student'")["sis_sourced_id"]
    assert set(otus["scores"]["student_sourced_id"]) <= set(students)


def test_quoting_round_trips_commas_and_quotes(otus: dict[str, pd.DataFrame]) -> None:
    titles = otus["assessments"]["title"]
    assert titles.str.contains(",").any() and titles.str.contains('"').any()
