"""Writing OneRoster 1.1 CSV bundles (the sandbox's input), for tests, demos and the bench."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path

from tooling.oneroster_csv import COLUMNS


def write_bundle(directory: Path, tables: Mapping[str, Iterable[Mapping[str, object]]]) -> Path:
    """Write `tables` (file stem -> rows) plus a manifest; list values become one quoted cell."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    present = []
    for name, rows in tables.items():
        with (directory / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS[name], extrasaction="raise")
            writer.writeheader()
            for row in rows:
                writer.writerow({key: ",".join(value) if isinstance(value, list | tuple)
                                 else value for key, value in row.items()})
        present.append(name)
    with (directory / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["propertyName", "value"])
        writer.writerow(["manifest.version", "1.0"])
        writer.writerow(["oneroster.version", "1.1"])
        for name in COLUMNS:
            writer.writerow([f"file.{name}", "bulk" if name in present else "absent"])
    return directory


def synthetic_district(students: int, classes: int = 40) -> dict[str, list[dict[str, object]]]:
    """A one-school district with `students` students spread over `classes` classes."""
    tables: dict[str, list[dict[str, object]]] = {
        "orgs": [{"sourcedId": "dist", "name": "District", "type": "district",
                  "identifier": "D"},
                 {"sourcedId": "school", "name": "School", "type": "school",
                  "identifier": "S", "parentSourcedId": "dist"}],
        "academicSessions": [
            {"sourcedId": "term", "title": "Year", "type": "term", "startDate": "2026-08-01",
             "endDate": "2027-06-30", "schoolYear": "2027"},
            {"sourcedId": "gp", "title": "GP", "type": "gradingPeriod",
             "startDate": "2026-08-01", "endDate": "2027-06-30", "parentSourcedId": "term",
             "schoolYear": "2027"}],
        "courses": [{"sourcedId": "course", "title": "Course", "courseCode": "C",
                     "orgSourcedId": "school"}],
        "classes": [{"sourcedId": f"class-{c}", "title": f"Class {c}", "courseSourcedId": "course",
                     "schoolSourcedId": "school", "termSourcedIds": ["term"],
                     "classType": "scheduled"} for c in range(classes)],
        "users": [{"sourcedId": f"student-{s}", "enabledUser": "true", "orgSourcedIds": ["school"],
                   "role": "student", "username": f"s{s}", "givenName": "Stu",
                   "familyName": f"Dent{s}"} for s in range(students)],
        "enrollments": [{"sourcedId": f"enr-{s}", "classSourcedId": f"class-{s % classes}",
                         "schoolSourcedId": "school", "userSourcedId": f"student-{s}",
                         "role": "student", "primary": "false"} for s in range(students)],
        "categories": [{"sourcedId": "cat", "title": "Homework"}],
    }
    return tables
