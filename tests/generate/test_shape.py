"""The district looks like a school district: sizes, people, dates up to the as-of day."""

from __future__ import annotations

from datetime import date

import pandas as pd

from tests.generate.helpers import AS_OF, STUDENTS, read_csv
from tooling.generate import GeneratedDistrict

ZONE = "America/Chicago"


def test_students_classes_and_enrollments(campus: GeneratedDistrict) -> None:
    users = read_csv(campus.oneroster_dir / "users.csv")
    enrollments = read_csv(campus.oneroster_dir / "enrollments.csv")
    students = enrollments.query("role == 'student'")
    assert (users["role"] == "student").sum() == STUDENTS
    per_student = students.groupby("userSourcedId").size()
    assert 6.5 <= per_student.mean() <= 7
    per_class = students.groupby("classSourcedId").size()
    assert 20 <= per_class.mean() <= 26 and per_class.max() <= 26
    teachers = enrollments.query("role == 'teacher'")
    assert (teachers["primary"] == "false").any(), "some classes are co-taught"
    assert (users["role"] == "teacher").sum() >= 5


def test_otus_only_administrator(campus: GeneratedDistrict) -> None:
    users = read_csv(campus.otus_dir / "users.csv")
    admins = users.query("role == 'administrator'")
    assert len(admins) and (admins["sis_sourced_id"] == "").all()
    assert (users.query("role != 'administrator'")["sis_sourced_id"] != "").all()


def test_assessments_per_class_per_period(campus: GeneratedDistrict) -> None:
    ca = read_csv(campus.otus_dir / "class_assignments.csv")
    due = pd.to_datetime(ca["due_at"].replace("", None), utc=True, format="ISO8601")
    first_quarter = ca[due.dt.tz_convert(ZONE).dt.date <= date(2026, 10, 16)]
    per_class = first_quarter.groupby("class_sourced_id").size()
    # A whole quarter is over: every class got 15 to 30 (a few more from planted cases).
    assert per_class.median() >= 15 and per_class.quantile(0.9) <= 32


def test_assigned_up_to_as_of_and_some_due_after(campus: GeneratedDistrict) -> None:
    ca = read_csv(campus.otus_dir / "class_assignments.csv")
    assigned = pd.to_datetime(ca["assigned_at"], utc=True, format="ISO8601").dt.tz_convert(ZONE)
    due = pd.to_datetime(ca["due_at"].replace("", None), utc=True, format="ISO8601")
    assert assigned.dt.date.max() <= AS_OF
    assert (due.dt.tz_convert(ZONE).dt.date > AS_OF).any()
    assert (ca["due_at"] == "").any() and (ca["go_live_at"] != "").any()
    scores = read_csv(campus.otus_dir / "scores.csv")
    updated = pd.to_datetime(scores["updated_at"], utc=True, format="ISO8601")
    assert updated.dt.tz_convert(ZONE).dt.date.max() <= AS_OF


def test_times_near_local_midnight(campus: GeneratedDistrict) -> None:
    ca = read_csv(campus.otus_dir / "class_assignments.csv")
    local = pd.to_datetime(ca["assigned_at"], utc=True, format="ISO8601").dt.tz_convert(ZONE)
    assert (local.dt.hour == 23).any()
    group = read_csv(campus.otus_dir / "passback_group.csv")
    joined = pd.to_datetime(group["added_at"], utc=True, format="ISO8601").dt.tz_convert(ZONE)
    assert (joined.dt.hour == 23).any()


def test_statuses_and_scores(campus: GeneratedDistrict) -> None:
    scores = read_csv(campus.otus_dir / "scores.csv")
    shares = scores["status"].value_counts(normalize=True)
    assert shares["graded"] > 0.6 and set(shares.index) == {
        "graded", "submitted", "in_progress", "not_submitted"}
    graded = scores.query("status == 'graded' and points_earned != ''")
    assert (graded["points_earned"].astype(float) % 1 == 0.5).any()  # halves occur
    assert (scores.query("status != 'graded'")["points_earned"] == "").all()
    assert (scores.query("missing == 'true'")["status"] == "not_submitted").all()
