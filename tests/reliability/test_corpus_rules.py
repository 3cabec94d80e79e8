"""Bad values the export contract lets through (they are well-formed) and the rules must catch:
negative points possible, a negative score, a score above the points possible, an unknown
class, an unknown student. (A 10 MB title is refused with the export: see
otus_cases.) One real run against the sandbox; each planted row
must end as its rule's rejection (or pass as documented), and every other clean row passes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pipeline.warehouse import connect
from tests.reliability.corpus.otus_cases import _rows, _write
from tests.reliability.helpers import Workspace, compare_sis, write_report
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run

QUARTER = ("2026-10-19", "2026-12-18")  # the open grading period on AS_OF


def _clean_assignments(workspace: Workspace) -> list[dict[str, str]]:
    """Assignments the generator planted nothing on, due in the open quarter, one per
    assessment and class, with graded scores."""
    out = workspace.generated.out
    with open(out / "planted.csv", newline="") as handle:
        planted = {row["assignment_id"] for row in csv.DictReader(handle)
                   if row["entity"] == "line_item"}
    graded = {s["assignment_id"] for s in _rows(out / "otus" / "scores.csv")
              if s["status"] == "graded"}
    seen: set[str] = set()
    chosen = []
    for row in _rows(out / "otus" / "class_assignments.csv"):
        start, due = row["assigned_at"][:10], row["due_at"][:10]
        if (row["assignment_id"] in planted or row["assessment_id"] in seen or row["deleted_at"]
                or row["assignment_id"] not in graded
                or not QUARTER[0] <= start <= due <= QUARTER[1]):
            continue
        seen.add(row["assessment_id"])
        chosen.append(row)
    return chosen


def _plant(workspace: Workspace, clean: list[dict[str, str]]) -> dict[str, str]:
    """Edit the export; returns case id -> the assignment it was planted on."""
    otus = workspace.generated.otus_dir
    a_points, a_class, a_scores = (c["assignment_id"] for c in clean[:3])
    assessments = _rows(otus / "assessments.csv")
    for row in assessments:
        if row["assessment_id"] == clean[0]["assessment_id"]:
            row["points_possible"] = "-5"
    _write(otus / "assessments.csv", assessments)
    assignments = _rows(otus / "class_assignments.csv")
    for row in assignments:
        if row["assignment_id"] == a_class:
            row["class_sourced_id"] = "cls-nowhere"
    _write(otus / "class_assignments.csv", assignments)
    scores = _rows(otus / "scores.csv")
    graded = [s for s in scores if s["assignment_id"] == a_scores and s["status"] == "graded"]
    graded[0]["points_earned"] = "-3"
    if len(graded) > 1:
        graded[1]["points_earned"] = "1000"
    scores.append({**graded[0], "student_sourced_id": "stu-nowhere", "points_earned": "4"})
    _write(otus / "scores.csv", scores)
    return {"otus-negative-points-possible": a_points, "otus-unknown-class": a_class,
            "otus-negative-score": a_scores,
            "otus-unknown-student": a_scores, "otus-score-above-points": a_scores}


def _rules_of(conn: object, assignment: str, student: str | None = None) -> set[str]:
    query = "SELECT rule FROM passback.rejections WHERE assignment_id = ?"
    params = [assignment]
    if student:
        query += " AND student_sourced_id = ?"
        params.append(student)
    return {r[0] for r in conn.execute(query, params).fetchall()}  # type: ignore[attr-defined]


def test_well_formed_bad_values_are_rejected_by_rules(workspace: Workspace, tmp_path: Path
                                                      ) -> None:
    """Each planted value becomes its rule's rejection; the rest of the export passes."""
    clean = _clean_assignments(workspace)
    assert len(clean) >= 5, "the generated district has too few clean assignments"
    planted = _plant(workspace, clean)
    scores = [s for s in _rows(workspace.generated.otus_dir / "scores.csv")
              if s["assignment_id"] == planted["otus-negative-score"] and s["status"] == "graded"]
    with SandboxSIS(workspace.generated.oneroster_dir, profile="oneroster",
                    closed_grading_periods=workspace.generated.closed_grading_periods) as sis:
        workspace.point_at(sis.url)
        finished = workspace.run()
        problems = compare_sis(sis.store.line_items(), sis.store.results(), set(),
                               workspace.warehouse, workspace.district)
    with connect(workspace.warehouse, read_only=True) as conn:
        found = {
            "otus-negative-points-possible": _rules_of(
                conn, planted["otus-negative-points-possible"]),
            "otus-unknown-class": _rules_of(conn, planted["otus-unknown-class"]),
            "otus-negative-score": _rules_of(conn, scores[0]["assignment_id"],
                                             scores[0]["student_sourced_id"]),
            "otus-unknown-student": _rules_of(conn, scores[0]["assignment_id"], "stu-nowhere"),
        }
        above = conn.execute("SELECT score FROM passback.results WHERE assignment_id = ? AND "
                             "student_sourced_id = ?", [scores[1]["assignment_id"],
                                                        scores[1]["student_sourced_id"]]
                             ).fetchall()
        others = {r[0] for r in conn.execute("SELECT assignment_id FROM passback.line_items"
                                             ).fetchall()}
    summary = [f"- {case}: rules {sorted(rules)}" for case, rules in found.items()]
    summary += [f"- otus-score-above-points: passed back as {above}",
                f"- run exit {finished.returncode}; SIS vs warehouse: {problems or 'none'}"]
    write_report("corpus_rules", summary)
    report = "\n".join(summary)
    assert finished.returncode == 0, f"{report}\n{finished.tail()}"
    assert "no_points_possible" in found["otus-negative-points-possible"], report
    assert "class_not_in_sis" in found["otus-unknown-class"], report
    assert "invalid_score" in found["otus-negative-score"], report
    assert "student_not_enrolled" in found["otus-unknown-student"], report
    assert {c["assignment_id"] for c in clean[3:]} <= others, report  # the rest passes
    assert not problems, report
