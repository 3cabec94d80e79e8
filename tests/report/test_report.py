"""The quality report of a generated district: the headline counts what SQL counts, a closed
period asks nothing of teachers, rows without a grading period are counted once, every
teacher has a section and (on request) a file, and student names appear only where allowed."""

from __future__ import annotations

import csv
import re
import stat
from pathlib import Path

import duckdb
import pytest

from checks.report.data import DISTRICT_LEVEL
from checks.report.render import headline, markdown_summary
from passback.cli import main
from tests.report.helpers import District, categories_by_sql, teacher_rows_by_sql

pytestmark = pytest.mark.slow  # generates a district and runs the rules over it

OPEN_WITH_WORK = "sy2026-q2"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _html(district: District, period: str) -> str:
    return district.written[period].paths["html"].read_text(encoding="utf-8")


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _student_names(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return {n for (n,) in conn.sql("SELECT given_name || ' ' || family_name FROM sis.users "
                                       "WHERE role = 'student'").fetchall()}


def test_the_headline_counts_what_sql_counts(district: District) -> None:
    for period in district.periods:
        data = district.written[period].data
        assert data.headline == categories_by_sql(district.db, district.config.district, period)
    data = district.written[OPEN_WITH_WORK].data
    fix_items, fix_scores = data.count("fix", "line_item"), data.count("fix", "result")
    assert fix_items and fix_scores and data.count("follows") and data.count("not_ready")
    sentences = headline(data)
    assert sentences[0] == f"Teachers must fix {fix_items:,} assessments and {fix_scores:,} scores."
    assert any(s.startswith(f"{data.count('follows'):,} scores wait on an assessment")
               for s in sentences)
    assert any(s.startswith(f"{data.count('not_ready'):,} scores are not ready yet")
               for s in sentences)
    html = _html(district, OPEN_WITH_WORK)
    for category in ("fix", "follows", "not_ready"):
        row = re.search(rf'<tr data-category="{category}">.*?</tr>', html, re.S)
        assert row, category
        cells = re.findall(r'<td class="n">([\d,]+)</td>', row.group(0))
        assert [int(c.replace(",", "")) for c in cells] == [
            data.count(category, "line_item"), data.count(category, "result")]


def test_a_score_of_a_refused_line_item_counts_once_as_following_from_it(
        district: District) -> None:
    with duckdb.connect(str(district.db), read_only=True) as conn:
        mixed = conn.execute("""
            SELECT count(*) FROM (
              SELECT assignment_id, student_sourced_id FROM passback.rejections
              WHERE grading_period_sourced_id = ? AND entity = 'result'
              GROUP BY ALL HAVING bool_or(rule = 'line_item_rejected')
                              AND bool_or(rule <> 'line_item_rejected'))""",
                             [OPEN_WITH_WORK]).fetchall()[0][0]
    assert mixed > 0, "the district has scores with a refused line item and another problem"
    data = district.written[OPEN_WITH_WORK].data
    by_rule = dict(zip(data.by_rule["rule"], data.by_rule["rows"], strict=True))
    assert data.count("follows") == by_rule["line_item_rejected"]  # one record, one place


def test_a_closed_period_says_so_and_asks_nothing_of_teachers(district: District) -> None:
    [closed] = district.closed
    written = district.written[closed]
    assert written.data.scope.closed and written.data.total_rejects > 0
    first, second = headline(written.data)
    assert first.endswith("is closed: Passback sends nothing to the SIS for it, and nothing "
                          "in this report is for teachers to do.")
    assert second.startswith("For the record, ") and "(none)" not in second
    html = _html(district, closed)
    assert 'data-closed="true"' in html and 'class="teacher"' not in html
    assert "By teacher" not in html and "Teachers must fix" not in html
    assert "teachers_dir" not in written.paths  # asked for, but a closed period has no actions
    assert not (district.folder(closed) / "teachers").exists()
    assert "(closed)" in markdown_summary(written.data, written.paths["html"])


def test_rows_without_a_grading_period_are_counted_once(district: District) -> None:
    with duckdb.connect(str(district.db), read_only=True) as conn:
        total, no_period = conn.sql(
            "SELECT count(*), count(*) FILTER (WHERE grading_period_sourced_id IS NULL) "
            "FROM passback.rejections").fetchall()[0]
        # rejections.csv leaves out the scores that only follow from a refused line item
        waiting_rows = conn.sql(
            "SELECT count(*) FROM passback.rejections r WHERE grading_period_sourced_id IS NULL"
            " AND EXISTS (SELECT 1 FROM passback.rejections f WHERE f.rule IN "
            "('line_item_rejected', 'line_item_refused_by_sis') AND f.district = r.district "
            "AND f.assignment_id = r.assignment_id "
            "AND f.student_sourced_id IS NOT DISTINCT FROM r.student_sourced_id)").fetchall()[0][0]
        level_ids = {r[0] for r in conn.sql(
            "SELECT DISTINCT assignment_id FROM passback.rejections "
            "WHERE grading_period_sourced_id IS NULL").fetchall()}
    assert no_period > 0
    reported = sum(w.data.rejection_rows for w in district.written.values())
    level = district.written[OPEN_WITH_WORK].district_level
    assert level is not None and level.rejection_rows == no_period
    assert reported + level.rejection_rows == total  # every row in exactly one report
    for period in district.periods:
        rows = _csv(district.written[period].paths["rejections_csv"])
        assert not level_ids & {r["assignment_id"] for r in rows}, period
    level_folder = district.reports / district.config.district / DISTRICT_LEVEL
    assert len(_csv(level_folder / "rejections.csv")) == no_period - waiting_rows > 0
    assert level.headline == categories_by_sql(district.db, district.config.district, None)
    html = _html(district, OPEN_WITH_WORK)
    assert f'href="../{DISTRICT_LEVEL}/quality_report.html"' in html
    assert any("due in no grading period: the district-level report lists them" in s
               for s in headline(district.written[OPEN_WITH_WORK].data))


def test_every_teacher_has_a_section_and_a_file_with_their_whole_list(
        district: District) -> None:
    written = district.written[OPEN_WITH_WORK]
    html = _html(district, OPEN_WITH_WORK)
    sections = re.findall(r'<details class="teacher"[^>]*data-teacher="([^"]*)"[^>]*'
                          r'data-to-fix="(\d+)" data-waiting="(\d+)" data-not-ready="(\d+)"',
                          html)
    index = {row["teacher_user_id"]: row for row in _csv(written.paths["teachers_csv"])}
    assert len(sections) == len(written.data.teachers) == len(index) > 1
    rows_per_teacher = teacher_rows_by_sql(district.db, OPEN_WITH_WORK)
    for teacher, to_fix, waiting, not_ready in sections:
        row = index[teacher]
        assert (int(row["to_fix"]) + int(row["refused_by_the_sis"]), int(
            row["waiting_on_a_refused_assessment"]), int(row["not_ready"])) == (
            int(to_fix), int(waiting), int(not_ready))
        path = district.folder(OPEN_WITH_WORK) / row["file"]
        assert _mode(path) == 0o600
        listed = _csv(path)
        # The teacher's file lists every row that asks something of them: line items' own
        # problems, and scores' problems where the score's line item is not refused.
        assert len(listed) == rows_per_teacher.get(teacher, 0), teacher
        waiting_total = sum(int(r["scores_waiting"] or 0) for r in listed
                            if r["student_sourced_id"] == "")
        assert waiting_total >= int(waiting)


def test_student_names_stay_out_unless_the_district_allows_them(
        district: District, named_district: District) -> None:
    names = _student_names(district.db)
    assert names
    for subject in (district, named_district):
        written = subject.written[OPEN_WITH_WORK]
        shared = [written.paths[k] for k in ("html", "summary_csv", "rejections_csv")]
        text = "".join(p.read_text(encoding="utf-8") for p in shared)
        text += markdown_summary(written.data, written.paths["html"])
        assert not [n for n in names if n in text], "names outside the teachers' files"
        files = sorted((subject.folder(OPEN_WITH_WORK) / "teachers").glob("*.csv"))
        assert files and all(_mode(f) == 0o600 for f in files)
        assert _mode(subject.folder(OPEN_WITH_WORK) / "teachers") == 0o700
        in_files = "".join(f.read_text(encoding="utf-8") for f in files)
        named = [n for n in names if n in in_files]
        if subject is district:
            assert not named and "student_name" not in in_files
        else:
            assert named and "student_name" in in_files


def test_no_message_reads_none(district: District) -> None:
    for written in district.written.values():
        text = written.paths["rejections_csv"].read_text(encoding="utf-8")
        assert "(none)" not in text and "unknown" not in text
        assert "(none)" not in written.paths["html"].read_text(encoding="utf-8")


def test_passback_report_writes_the_teachers_files_on_request(
        district: District, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PASSBACK_MAPPINGS_DIR", str(district.config.source_file.parent))
    monkeypatch.setenv("PASSBACK_WAREHOUSE", str(district.db))
    monkeypatch.setenv("PASSBACK_REPORTS_DIR", str(tmp_path))
    assert main(["report", "--district", district.config.district,
                 "--grading-period", OPEN_WITH_WORK]) == 0
    folder = tmp_path / district.config.district / OPEN_WITH_WORK
    assert (folder / "quality_report.html").is_file() and not (folder / "teachers").exists()
    assert main(["report", "--district", district.config.district, "--per-teacher"]) == 0
    said = capsys.readouterr().out
    assert (folder / "teachers.csv").is_file() and any((folder / "teachers").iterdir())
    assert "Teachers must fix" in said and "is closed: Passback sends nothing" in said
    assert not [n for n in _student_names(district.db) if n in said]
    assert main(["report", "--district", "nope"]) == 2


def test_the_district_setting_writes_the_teachers_files_without_being_asked(
        district: District, tmp_path: Path) -> None:
    from checks.report.build import write_quality_report
    from tests.report.helpers import AS_OF

    config = district.config
    on = config.model_copy(update={"report": config.report.model_copy(
        update={"per_teacher": True})})
    with duckdb.connect(str(district.db), read_only=True) as conn:
        off = write_quality_report(conn, config, OPEN_WITH_WORK, tmp_path / "off", today=AS_OF)
        written = write_quality_report(conn, on, OPEN_WITH_WORK, tmp_path / "on", today=AS_OF)
    assert "teachers_dir" not in off.paths and not (tmp_path / "off" / "teachers").exists()
    assert len(list(written.paths["teachers_dir"].glob("*.csv"))) == len(written.data.teachers)
