"""Property: every class assignment and every score ends accepted or rejected (a warning
aside), never both and never lost, whatever mix of problems the district has."""

from __future__ import annotations

import copy
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.rules.helpers import BASE, World, run_rules

pytestmark = pytest.mark.slow  # takes more than ~2 s

assignment = st.fixed_dictionaries({
    "title_length": st.sampled_from([10, 49, 50, 70]),
    "points_possible": st.sampled_from([None, 0.0, 10.0, 10.5]),
    "grading_method": st.sampled_from(["points", "standards"]),
    "include": st.booleans(),
    "deleted": st.booleans(),
    "assigned_at": st.sampled_from(["2026-08-10T15:00:00Z", "2026-09-01T03:00:00Z",
                                    "2026-10-12T15:00:00Z"]),
    "due_at": st.sampled_from([None, "2026-09-08T15:00:00Z", "2026-10-17T04:30:00Z",
                               "2026-10-17T15:00:00Z", "2026-11-20T15:00:00Z"]),
    "class": st.sampled_from(["c1", "gone"]),
    "scores": st.lists(st.tuples(
        st.sampled_from(["s1", "s2", "s3"]),
        st.sampled_from(["graded", "submitted", "not_submitted", "in_progress"]),
        st.sampled_from([None, -1.0, 0.0, 7.5]),
        st.booleans()), max_size=3, unique_by=lambda t: t[0]),
})


def _world(profile: str, assignments: list[dict]) -> World:
    world = World(profile=profile, closed=("gp1",) if profile == "skyward" else ())
    tables = world.tables
    tables["otus.assessments"], tables["otus.class_assignments"] = [], []
    tables["otus.scores"] = []
    for i, a in enumerate(assignments):
        assessment = copy.deepcopy(BASE["otus.assessments"][0]) | {
            "assessment_id": f"a{i}", "title": "t" * a["title_length"],
            "points_possible": a["points_possible"], "grading_method": a["grading_method"],
            "include_in_final_grade": a["include"]}
        tables["otus.assessments"].append(assessment)
        tables["otus.class_assignments"].append({
            "assignment_id": f"ca{i}", "assessment_id": f"a{i}", "class_sourced_id": a["class"],
            "assigned_by": "u1", "assigned_at": a["assigned_at"], "due_at": a["due_at"],
            "updated_at": a["assigned_at"],
            "deleted_at": "2026-09-20T00:00:00Z" if a["deleted"] else None})
        for student, status, points, excluded in a["scores"]:
            tables["otus.scores"].append({
                "assignment_id": f"ca{i}", "student_sourced_id": student, "status": status,
                "points_earned": points, "excluded": excluded,
                "updated_at": "2026-09-09T15:00:00Z"})
    return world


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=st.sampled_from(["infinite_campus", "skyward", "oneroster"]),
       assignments=st.lists(assignment, min_size=1, max_size=5))
def test_every_record_is_accepted_xor_rejected(profile: str, assignments: list[dict]) -> None:
    world = _world(profile, assignments)
    with TemporaryDirectory() as folder:
        path = Path(folder) / "w.duckdb"
        run_rules(world, path, gp="gp1")
        out = run_rules(world, path, gp="gp2")  # reads back both partitions' rows
    rejected = out.rejections[out.rejections["severity"] == "reject"]
    li_rejected = set(rejected.loc[rejected["entity"] == "line_item", "assignment_id"])
    li_accepted = set(out.line_items["assignment_id"])
    all_items = {f"ca{i}" for i in range(len(assignments))}
    assert li_accepted.isdisjoint(li_rejected)
    assert li_accepted | li_rejected == all_items
    res = rejected[rejected["entity"] == "result"]
    res_rejected = set(zip(res["assignment_id"], res["student_sourced_id"], strict=True))
    res_accepted = set(zip(out.results["assignment_id"], out.results["student_sourced_id"],
                           strict=True))
    all_scores = {(r["assignment_id"], r["student_sourced_id"])
                  for r in world.tables["otus.scores"]}
    assert res_accepted.isdisjoint(res_rejected)
    assert res_accepted | res_rejected == all_scores
    # a rejected line item's scores carry exactly one line_item_rejected row each
    lir = res[res["rule"] == "line_item_rejected"]
    assert set(lir["assignment_id"]) <= li_rejected
    assert not lir.duplicated(["assignment_id", "student_sourced_id"]).any()
