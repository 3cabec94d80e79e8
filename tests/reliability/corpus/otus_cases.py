"""Bad Otus exports: each case edits a copy of a good export and names the expected outcome.

`refused`: the whole export is refused (the asset fails) with a message holding `fragment`.
`loaded`: the contract accepts it and the rows load unchanged (a tolerated variation).
Either way the warehouse keeps its earlier rows: nothing of a refused export is loaded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OtusCase:
    """One bad export: what is wrong with it and what the pipeline must do."""

    id: str
    input: str
    outcome: str  # "refused" or "loaded"
    fragment: str  # expected in the failure message ("" for loaded)
    edit: Callable[[Path], None]


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def _write(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> None:
    columns = columns or list(rows[0])
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def _set(entity: str, column: str, value: str, row: int = 0) -> Callable[[Path], None]:
    def edit(export: Path) -> None:
        rows = _rows(export / f"{entity}.csv")
        rows[row][column] = value
        _write(export / f"{entity}.csv", rows)
    return edit


def _drop_column(entity: str, column: str) -> Callable[[Path], None]:
    def edit(export: Path) -> None:
        rows = _rows(export / f"{entity}.csv")
        _write(export / f"{entity}.csv", rows, [c for c in rows[0] if c != column])
    return edit


def _duplicate_row(entity: str) -> Callable[[Path], None]:
    def edit(export: Path) -> None:
        rows = _rows(export / f"{entity}.csv")
        _write(export / f"{entity}.csv", [*rows, rows[0]])
    return edit


def _replace_bytes(entity: str, data: bytes) -> Callable[[Path], None]:
    def edit(export: Path) -> None:
        (export / f"{entity}.csv").write_bytes(data)
    return edit


def _truncate(entity: str) -> Callable[[Path], None]:
    def edit(export: Path) -> None:
        path = export / f"{entity}.csv"
        data = path.read_bytes()
        cut = data.rstrip(b"\n").rfind(b"\n") + 12  # a dozen bytes into the last line
        path.write_bytes(data[:cut])
    return edit


def _bom(entity: str) -> Callable[[Path], None]:
    def edit(export: Path) -> None:
        path = export / f"{entity}.csv"
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return edit


def _latin1(entity: str, column: str) -> Callable[[Path], None]:
    def edit(export: Path) -> None:
        rows = _rows(export / f"{entity}.csv")
        rows[0][column] = "Zoë Müller-Peña"
        _write(export / f"{entity}.csv", rows)
        path = export / f"{entity}.csv"
        path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    return edit


def _remove(entity: str) -> Callable[[Path], None]:
    def edit(export: Path) -> None:
        (export / f"{entity}.csv").unlink()
    return edit


def _second_format(entity: str) -> Callable[[Path], None]:
    def edit(export: Path) -> None:
        (export / f"{entity}.jsonl").write_text('{"user_id": "u"}\n')
    return edit


def _ragged(entity: str) -> Callable[[Path], None]:
    def edit(export: Path) -> None:
        path = export / f"{entity}.csv"
        lines = path.read_text().splitlines()
        lines[1] += ",surplus,cells"
        path.write_text("\n".join(lines) + "\n")
    return edit


ISO = "an ISO 8601 timestamp"
OTUS_CASES: list[OtusCase] = [
    OtusCase("otus-missing-column", "scores.csv without the `status` column", "refused",
             "missing required column(s) 'status'", _drop_column("scores", "status")),
    OtusCase("otus-missing-key-column", "class_assignments.csv without `assignment_id`",
             "refused", "missing required column(s) 'assignment_id'",
             _drop_column("class_assignments", "assignment_id")),
    OtusCase("otus-wrong-type-decimal", "assessments.points_possible = `ten`", "refused",
             "'points_possible' must be a decimal number",
             _set("assessments", "points_possible", "ten")),
    OtusCase("otus-wrong-type-boolean", "assessments.include_in_final_grade = `yes`",
             "refused", "must be true, false, 1 or 0",
             _set("assessments", "include_in_final_grade", "yes")),
    OtusCase("otus-unknown-enum", "assessments.grading_method = `letter`", "refused",
             "'grading_method' must be one of", _set("assessments", "grading_method", "letter")),
    OtusCase("otus-bad-status-enum", "scores.status = `GRADED!`", "refused",
             "'status' must be one of", _set("scores", "status", "GRADED!")),
    OtusCase("otus-unparseable-date", "class_assignments.assigned_at = `31/10/2026`",
             "refused", f"'assigned_at' must be {ISO}",
             _set("class_assignments", "assigned_at", "31/10/2026")),
    OtusCase("otus-unparseable-date-word", "scores.updated_at = `yesterday`", "refused",
             f"'updated_at' must be {ISO}", _set("scores", "updated_at", "yesterday")),
    OtusCase("otus-impossible-date", "class_assignments.due_at = `2026-02-30T10:00:00Z`",
             "refused", f"'due_at' must be {ISO}",
             _set("class_assignments", "due_at", "2026-02-30T10:00:00Z")),
    OtusCase("otus-empty-required", "class_assignments.class_sourced_id empty", "refused",
             "'class_sourced_id' is required but empty",
             _set("class_assignments", "class_sourced_id", "")),
    OtusCase("otus-duplicate-key", "assessments.csv with its first row twice", "refused",
             "assessments.csv: column(s) assessment_id: duplicate key",
             _duplicate_row("assessments")),
    OtusCase("otus-duplicate-composite-key", "scores.csv with one (assignment, student) twice",
             "refused", "column(s) assignment_id, student_sourced_id: duplicate key",
             _duplicate_row("scores")),
    OtusCase("otus-nan-points", "scores.points_earned = `NaN`", "refused",
             "'points_earned' must be a decimal number", _set("scores", "points_earned", "NaN")),
    OtusCase("otus-infinite-points", "assessments.points_possible = `inf`", "refused",
             "'points_possible' must be a decimal number",
             _set("assessments", "points_possible", "inf")),
    OtusCase("otus-empty-file", "scores.csv of zero bytes", "refused", "scores",
             _replace_bytes("scores", b"")),
    OtusCase("otus-truncated-file", "scores.csv cut a dozen bytes into its last line",
             "refused", "scores.csv", _truncate("scores")),
    OtusCase("otus-binary-garbage", "users.csv replaced by binary bytes", "refused", "users",
             _replace_bytes("users", bytes(range(256)) * 8)),
    OtusCase("otus-latin1", "users.csv encoded Latin-1 (a name with ë, ü, ñ)", "refused",
             "users", _latin1("users", "family_name")),
    OtusCase("otus-missing-file", "no passback_group file at all", "refused",
             "no passback_group.csv, passback_group.jsonl or passback_group.parquet",
             _remove("passback_group")),
    OtusCase("otus-two-formats", "users.csv and users.jsonl side by side", "refused",
             "several files", _second_format("users")),
    OtusCase("otus-ragged-row", "class_assignments.csv with two surplus cells in a row",
             "refused", "class_assignments", _ragged("class_assignments")),
    OtusCase("otus-10mb-title", "an assessment title of 10 MB", "refused",
             "assessments: the file cannot be read",
             _set("assessments", "title", "T" * 10_485_760)),
    OtusCase("otus-bom", "users.csv starting with a UTF-8 BOM", "loaded", "", _bom("users")),
]
