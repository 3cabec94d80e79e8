"""Date-only Otus timestamps (issue 17, item 4): `2026-10-21` is a local date in the district's
zone, never a UTC time with an offset of `-21`, in every timestamp column of the contract."""

from __future__ import annotations

import copy
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from pipeline.otus import ENTITIES, read_export
from tests.extract.helpers import DISTRICT, OTUS_ROWS, write_otus_export

CHICAGO = ZoneInfo("America/Chicago")
AUCKLAND = ZoneInfo("Pacific/Auckland")  # ahead of UTC: a UTC reading moves the date forward
TIMESTAMP_COLUMNS = [(entity.name, field.name) for entity in ENTITIES.values()
                     for field in entity.fields if field.kind == "timestamp"]


def test_every_timestamp_column_of_the_contract_is_covered() -> None:
    # The contract has ten timestamp columns; a new one is covered by the parametrisation.
    assert len(TIMESTAMP_COLUMNS) == 10
    assert ("class_assignments", "due_at") in TIMESTAMP_COLUMNS


@pytest.mark.parametrize("zone", [CHICAGO, AUCKLAND], ids=["chicago", "auckland"])
@pytest.mark.parametrize(("entity", "column"), TIMESTAMP_COLUMNS,
                         ids=[f"{e}.{c}" for e, c in TIMESTAMP_COLUMNS])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_date_only_timestamp_is_local_midnight(tmp_path: Path, entity: str, column: str,
                                                 zone: ZoneInfo, fmt: str) -> None:
    rows = copy.deepcopy(OTUS_ROWS)
    rows[entity][0][column] = "2026-10-21"
    export = read_export(str(write_otus_export(tmp_path / "otus", fmt, rows)), zone, DISTRICT)
    value = export.tables[entity][column].iloc[0]
    assert value == pd.Timestamp("2026-10-21", tz=zone), (entity, column, value)
    assert value.tz_convert(zone).date().isoformat() == "2026-10-21"


def test_offsets_after_a_time_are_still_offsets(tmp_path: Path) -> None:
    rows = copy.deepcopy(OTUS_ROWS)
    values = ["2026-10-21T14:00:00Z", "2026-10-21T14:00:00+02:00", "2026-10-21T14:00:00-0500",
              "2026-10-21T14:00-05", "2026-10-21 14:00:00.250+0000"]
    for value in values:
        rows["class_assignments"][0]["due_at"] = value
        folder = write_otus_export(tmp_path / "otus", "csv", rows)
        due = read_export(str(folder), CHICAGO, DISTRICT).tables["class_assignments"]["due_at"]
        assert due.iloc[0] == pd.Timestamp(value.replace(" ", "T")), value
