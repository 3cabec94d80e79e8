"""The district a sandbox serves, read from a OneRoster 1.1 CSV bundle.

Rows keep the CSV's column names (``orgSourcedIds``, ``termSourcedIds``...)
with list cells split, so rendering to 1.1 or 1.2 JSON is the renderer's job,
not the loader's. The roster is read-only after loading; gradebook objects live
in the `GradebookStore`.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

Row = dict[str, object]

# OneRoster 1.1 CSV columns whose cell holds a comma-separated list.
LIST_COLUMNS = frozenset({
    "termSourcedIds", "orgSourcedIds", "agentSourcedIds", "grades", "subjects",
    "subjectCodes", "periods", "userIds", "resources",
})
REQUIRED_FILES = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")
OPTIONAL_FILES = ("categories", "lineItems", "results")
# Bulk CSV rows may leave status and dateLastModified blank; the sandbox then
# reports a fixed time so responses are stable from run to run.
DEFAULT_MODIFIED = "2026-07-01T00:00:00.000Z"


def read_csv(path: Path) -> list[Row]:
    """Read one OneRoster CSV file into rows, splitting list cells and filling defaults."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows: list[Row] = []
        for raw in csv.DictReader(handle):
            row: Row = {}
            for column, value in raw.items():
                value = (value or "").strip()
                if column in LIST_COLUMNS:
                    row[column] = [part.strip() for part in value.split(",") if part.strip()]
                else:
                    row[column] = value
            row["status"] = row.get("status") or "active"
            row["dateLastModified"] = row.get("dateLastModified") or DEFAULT_MODIFIED
            rows.append(row)
    return rows


@dataclass
class Roster:
    """Rows of a district keyed by sourcedId, with the indexes nested paths need."""

    orgs: dict[str, Row] = field(default_factory=dict)
    sessions: dict[str, Row] = field(default_factory=dict)
    courses: dict[str, Row] = field(default_factory=dict)
    classes: dict[str, Row] = field(default_factory=dict)
    users: dict[str, Row] = field(default_factory=dict)
    enrollments: dict[str, Row] = field(default_factory=dict)
    seed_categories: list[Row] = field(default_factory=list)
    seed_line_items: list[Row] = field(default_factory=list)
    seed_results: list[Row] = field(default_factory=list)
    enrollments_by_class: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    enrollments_by_user: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # (class, user) of every active student enrollment: asked on every result write.
    active_students: set[tuple[str, str]] = field(default_factory=set)
    _periods_by_class: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path) -> Roster:
        """Read a bundle directory; raise FileNotFoundError naming a missing required file."""
        data_dir = Path(data_dir)
        tables: dict[str, list[Row]] = {}
        for name in REQUIRED_FILES:
            path = data_dir / f"{name}.csv"
            if not path.exists():
                raise FileNotFoundError(f"OneRoster bundle {data_dir} has no {name}.csv")
            tables[name] = read_csv(path)
        for name in OPTIONAL_FILES:
            path = data_dir / f"{name}.csv"
            tables[name] = read_csv(path) if path.exists() else []
        roster = cls(
            orgs=_by_id(tables["orgs"]),
            sessions=_by_id(tables["academicSessions"]),
            courses=_by_id(tables["courses"]),
            classes=_by_id(tables["classes"]),
            users=_by_id(tables["users"]),
            enrollments=_by_id(tables["enrollments"]),
            seed_categories=tables["categories"],
            seed_line_items=tables["lineItems"],
            seed_results=tables["results"],
        )
        for enrollment_id, enrollment in roster.enrollments.items():
            roster.enrollments_by_class[str(enrollment["classSourcedId"])].append(enrollment_id)
            roster.enrollments_by_user[str(enrollment["userSourcedId"])].append(enrollment_id)
            if enrollment.get("role") == "student" and enrollment.get("status") == "active":
                roster.active_students.add((str(enrollment["classSourcedId"]),
                                            str(enrollment["userSourcedId"])))
        return roster

    # Questions the SIS rules and nested paths ask.
    def sessions_of_type(self, kind: str) -> list[str]:
        """sourcedIds of academic sessions of one type (term, gradingPeriod...)."""
        return [sid for sid, row in self.sessions.items() if row.get("type") == kind]

    def grading_periods_for_class(self, class_id: str) -> list[str]:
        """Grading periods under the class's terms, or every grading period if none relate."""
        cached = self._periods_by_class.get(class_id)
        if cached is None:
            cached = self._periods_by_class[class_id] = self._grading_periods_for(class_id)
        return cached

    def _grading_periods_for(self, class_id: str) -> list[str]:
        terms = set(self.classes[class_id].get("termSourcedIds") or [])  # type: ignore[arg-type]
        periods = self.sessions_of_type("gradingPeriod")
        related = [p for p in periods if self.sessions[p].get("parentSourcedId") in terms]
        return related or periods

    def term_span(self, class_id: str) -> tuple[str, str] | None:
        """(first start date, last end date) of the class's terms, ISO strings."""
        terms = [self.sessions[t] for t in self.classes[class_id].get("termSourcedIds") or []
                 if t in self.sessions]  # type: ignore[union-attr]
        if not terms:
            return None
        return min(str(t["startDate"]) for t in terms), max(str(t["endDate"]) for t in terms)

    def is_active_student(self, class_id: str, user_id: str) -> bool:
        """True when the user holds an active student enrollment in the class."""
        return (class_id, user_id) in self.active_students

    def users_in_class(self, class_id: str, role: str) -> list[str]:
        """Users enrolled in a class with a role, in enrollment order."""
        ids = []
        for enrollment_id in self.enrollments_by_class.get(class_id, ()):
            row = self.enrollments[enrollment_id]
            if row.get("role") == role and row["userSourcedId"] not in ids:
                ids.append(str(row["userSourcedId"]))
        return ids

    def classes_of_user(self, user_id: str) -> list[str]:
        """Classes a user is enrolled in."""
        ids: list[str] = []
        for enrollment_id in self.enrollments_by_user.get(user_id, ()):
            class_id = str(self.enrollments[enrollment_id]["classSourcedId"])
            if class_id not in ids:
                ids.append(class_id)
        return ids


def _by_id(rows: list[Row]) -> dict[str, Row]:
    return {str(row["sourcedId"]): row for row in rows}
