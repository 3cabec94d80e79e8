"""The Otus export reader: the contract enforced on entry, in every file format."""

from __future__ import annotations

import copy
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from pipeline.otus import ExportContractError, read_export
from tests.extract.helpers import DISTRICT, OTUS_ROWS, STUDENTS, write_otus_export

CHICAGO = ZoneInfo("America/Chicago")


def rows_with(entity: str, index: int, **changes: str) -> dict:
    """The fixture export with one row of one entity changed."""
    rows = copy.deepcopy(OTUS_ROWS)
    rows[entity][index].update(changes)
    return rows


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_every_format_reads_to_the_same_typed_tables(tmp_path: Path, fmt: str) -> None:
    export = read_export(str(write_otus_export(tmp_path / fmt, fmt)), CHICAGO, DISTRICT)
    scores, assessments = export.tables["scores"], export.tables["assessments"]
    assert len(scores) == STUDENTS // 4
    assert scores["points_earned"].iloc[1] == 4.5  # student-4: 4 % 10 + 0.5
    assert scores["late"].tolist() == [True] * len(scores)  # CSV 1 / JSON "1" read as true
    assert scores["missing"].tolist() == [False] * len(scores)
    assert assessments["include_in_final_grade"].tolist() == [True, False]
    assert (scores["district"] == DISTRICT).all()
    assert export.files["scores"].format == fmt


def test_timestamps_without_offset_are_district_local(tmp_path: Path) -> None:
    export = read_export(str(write_otus_export(tmp_path / "csv")), CHICAGO, DISTRICT)
    assignment = export.tables["class_assignments"].iloc[0]
    # "2026-09-08T23:59:00" in Chicago (CDT, UTC-5) is 04:59 UTC the next day.
    assert assignment["due_at"] == pd.Timestamp("2026-09-09T04:59:00Z")
    assert assignment["assigned_at"] == pd.Timestamp("2026-09-01T14:00:00Z")
    assert pd.isna(assignment["go_live_at"])


def test_csv_with_bom_and_extra_columns(tmp_path: Path) -> None:
    folder = write_otus_export(tmp_path / "csv")
    users = folder / "users.csv"
    text = users.read_text(encoding="utf-8").splitlines()
    text[0] += ",favourite_colour"
    text[1:] = [line + ",blue" for line in text[1:]]
    users.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(text) + "\r\n").encode("utf-8"))
    export = read_export(str(folder), CHICAGO, DISTRICT)
    assert export.tables["users"]["user_id"].tolist() == ["u-t1", "u-admin"]
    assert "favourite_colour" not in export.tables["users"]


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    rows = copy.deepcopy(OTUS_ROWS)
    for row in rows["scores"]:
        del row["excluded"]
    folder = write_otus_export(tmp_path / "csv", rows=rows)
    with pytest.raises(ExportContractError) as err:
        read_export(str(folder), CHICAGO, DISTRICT)
    assert err.value.problems == ["scores.csv: missing required column(s) 'excluded'"]


def test_bad_enum_names_column_and_first_rows(tmp_path: Path) -> None:
    folder = write_otus_export(tmp_path / "csv", rows=rows_with("scores", 2, status="done"))
    with pytest.raises(ExportContractError) as err:
        read_export(str(folder), CHICAGO, DISTRICT)
    (problem,) = err.value.problems
    assert problem.startswith("scores.csv: column 'status' must be one of")
    assert "line 4 ('done')" in problem  # header is line 1, the third score is line 4


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    rows = copy.deepcopy(OTUS_ROWS)
    rows["scores"].append(dict(rows["scores"][0]))
    folder = write_otus_export(tmp_path / "jsonl", "jsonl", rows=rows)
    with pytest.raises(ExportContractError) as err:
        read_export(str(folder), CHICAGO, DISTRICT)
    (problem,) = err.value.problems
    assert "scores.jsonl: column(s) assignment_id, student_sourced_id: duplicate key" in problem
    assert "record 1 (ca-1, student-0)" in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    rows = rows_with("assessments", 0, include_in_final_grade="yes", updated_at="yesterday",
                     points_possible="ten")
    rows["users"][1]["user_id"] = ""
    folder = write_otus_export(tmp_path / "csv", rows=rows)
    with pytest.raises(ExportContractError) as err:
        read_export(str(folder), CHICAGO, DISTRICT)
    text = "\n".join(err.value.problems)
    assert "users.csv: column 'user_id' is required but empty; first offending rows: line 3" \
        in text
    assert "assessments.csv: column 'include_in_final_grade' must be true, false, 1 or 0" in text
    assert "assessments.csv: column 'updated_at' must be an ISO 8601 timestamp" in text
    assert "assessments.csv: column 'points_possible' must be a decimal number" in text


def test_two_files_for_one_entity_or_none_is_refused(tmp_path: Path) -> None:
    folder = write_otus_export(tmp_path / "csv")
    write_otus_export(tmp_path / "other", "jsonl")
    (tmp_path / "other" / "users.jsonl").rename(folder / "users.jsonl")
    (folder / "scores.csv").unlink()
    with pytest.raises(ExportContractError) as err:
        read_export(str(folder), CHICAGO, DISTRICT)
    assert any("users: several files" in p for p in err.value.problems)
    assert any("scores: no scores.csv" in p for p in err.value.problems)
