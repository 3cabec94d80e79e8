"""End to end on a generated district: every planted problem is reported under its rule
with its profile's effect, every control passes, and the report renders."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from assets.transform.rules_run import compute_partition, write_partition
from checks.report.build import write_report
from checks.report.data import load_report_data
from pipeline.config import load_district_file
from pipeline.graph import grading_period_key
from pipeline.rule_settings import RunSettings
from tests.rules.generated import load_generated

pytestmark = pytest.mark.slow  # takes more than ~2 s

generate = pytest.importorskip("tooling.generate.district")
AS_OF = date(2026, 11, 2)


def _run_district(tmp_path: Path, profile: str) -> tuple[Path, RunSettings, list[str], Path]:
    made = generate.generate_district(tmp_path / "gen", students=60, seed=3, profile=profile,
                                      as_of=AS_OF)
    db = tmp_path / "warehouse.duckdb"
    load_generated(made.otus_dir, made.oneroster_dir, db, made.district)
    settings = RunSettings.from_config(load_district_file(made.mapping_file), made.as_of)
    with duckdb.connect(str(db)) as conn:
        periods = [r[0] for r in conn.sql(
            "SELECT sourced_id FROM sis.academic_sessions WHERE type = 'gradingPeriod'"
        ).fetchall()]
        for gp in periods:
            run = compute_partition(conn, settings, gp)
            assert run.checks.ok, run.checks.problems
            assert write_partition(conn, run, f"run-{gp}") == 0
    return db, settings, periods, made.planted


@pytest.mark.parametrize("profile", ["skyward", "infinite_campus"])
def test_planted_problems_are_found(tmp_path: Path, profile: str) -> None:
    db, _, _, planted_file = _run_district(tmp_path, profile)
    with duckdb.connect(str(db), read_only=True) as conn:
        rejections = conn.sql("SELECT * FROM passback.rejections").to_arrow_table().to_pandas()
    planted = pd.read_csv(planted_file, dtype=str)
    found = set(zip(rejections["rule"], rejections["severity"], rejections["assignment_id"],
                    rejections["student_sourced_id"].fillna(""), strict=True))
    misses = []
    for row in planted.fillna("").itertuples():
        key = (row.rule_id, row.expect, row.assignment_id, row.student_sourced_id)
        hit = any(k[0] == row.rule_id and k[2:] == key[2:] for k in found)
        if row.expect == "pass" and hit:
            misses.append(f"control refused: {row.case_name} {key}")
        elif row.expect != "pass" and key not in found:
            misses.append(f"not found: {row.case_name} {key}")
    # Line items are planted by predicate: a rejection not in the table is a false alarm.
    # Scores are listed for clean line items only, so compare those.
    expected = set(zip(planted["rule_id"], planted["assignment_id"],
                       planted["student_sourced_id"].fillna(""), strict=True))
    clean = set(rejections["assignment_id"]) - set(
        rejections.loc[rejections["entity"] == "line_item", "assignment_id"])
    for r in rejections.fillna({"student_sourced_id": ""}).itertuples():
        checked = r.entity == "line_item" or r.assignment_id in clean
        if checked and (r.rule, r.assignment_id, r.student_sourced_id) not in expected:
            misses.append(f"unexpected: {r.rule} {r.assignment_id} {r.student_sourced_id}")
    assert not misses, f"{len(misses)} of {len(planted)}:\n" + "\n".join(misses[:20])


def test_report_renders_from_a_generated_district(tmp_path: Path) -> None:
    db, settings, periods, _ = _run_district(tmp_path, "skyward")
    gp = periods[1]
    with duckdb.connect(str(db), read_only=True) as conn:
        data = load_report_data(conn, settings.district, gp)
        student_names = {n for (n,) in conn.sql(
            "SELECT given_name || ' ' || family_name FROM sis.users WHERE role = 'student'"
        ).fetchall()}
        paths = write_report(conn, data, tmp_path / "reports" / grading_period_key(gp))
    html = paths["html"].read_text(encoding="utf-8")
    assert "<svg" in html and "Rejections by rule" in html
    assert data.total_rejects > 0 and "teacher_not_in_group" in html
    for path in paths.values():
        assert path.stat().st_mode & 0o777 == 0o600
    text = html + paths["summary_csv"].read_text() + paths["rejections_csv"].read_text()
    assert not [n for n in student_names if n in text], "no student names in the report"
    assert re.search(r"<script", html) is None
