"""The bad-Otus-export corpus through the real `otus_export` asset: a refused export fails the
asset with a message naming the problem, and no row of the warehouse changes (the district's
own earlier load and another district's load stay intact)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.extract.otus import build_otus_assets
from pipeline.otus import ENTITIES
from pipeline.resources import Districts, Warehouse
from pipeline.warehouse import connect
from tests.reliability.corpus.otus_cases import OTUS_CASES, OtusCase
from tooling.generate import GeneratedDistrict

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run

GOOD, BAD = "gooddist", "baddist"
PARTITIONS = dg.StaticPartitionsDefinition([GOOD, BAD])
OTUS_ASSET = build_otus_assets(PARTITIONS)


@dataclass
class Loaded:
    """A warehouse holding a good load of both districts, and where their files are."""

    warehouse: Path
    mappings: Path
    good_export: Path
    fingerprint: str


def fingerprint(warehouse: Path) -> str:
    """A hash of every otus.* row of every district (order-independent)."""
    digest = hashlib.sha256()
    with connect(warehouse, read_only=True) as conn:
        for name in ENTITIES:
            rows = conn.execute(f"SELECT * FROM otus.{name} ORDER BY ALL").fetchall()
            digest.update(f"{name}:{len(rows)}:{rows!r}".encode())
    return digest.hexdigest()


def _write_district(mappings: Path, generated: GeneratedDistrict, district: str,
                    export: Path) -> None:
    data = yaml.safe_load(generated.mapping_file.read_text())
    data["district"], data["otus"]["export"] = district, str(export)
    (mappings / f"{district}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def materialize(loaded: Loaded, district: str) -> dg.ExecuteInProcessResult:
    """The Otus asset for one district, as a Dagster run (not raised on failure)."""
    return dg.materialize(
        [OTUS_ASSET], partition_key=district, raise_on_error=False,
        resources={"warehouse": Warehouse(database=str(loaded.warehouse)),
                   "districts": Districts(mappings_dir=str(loaded.mappings))})


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Every failure message and description of a run, as one text."""
    parts = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            parts.append(event.step_failure_data.error.to_string()
                         if event.step_failure_data.error else "")
            user = event.step_failure_data.user_failure_data
            parts.append(user.description or "" if user else "")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def loaded(generated: GeneratedDistrict, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Loaded]:
    """Both districts loaded from the good export, the way a nightly run leaves them."""
    root = tmp_path_factory.mktemp("otus-corpus")
    mappings = root / "mappings"
    mappings.mkdir()
    for district in (GOOD, BAD):
        _write_district(mappings, generated, district, generated.otus_dir)
    state = Loaded(root / "warehouse.duckdb", mappings, generated.otus_dir, "")
    for district in (GOOD, BAD):
        assert materialize(state, district).success
    state.fingerprint = fingerprint(state.warehouse)
    yield state


@pytest.mark.parametrize("case", OTUS_CASES, ids=[c.id for c in OTUS_CASES])
def test_bad_export_is_refused_whole(case: OtusCase, loaded: Loaded, generated: GeneratedDistrict,
                                     tmp_path: Path) -> None:
    """Refused: the asset fails naming the problem. Loaded: the rows are identical. Either
    way every earlier row of both districts is unchanged."""
    export = tmp_path / "export"
    shutil.copytree(loaded.good_export, export)
    case.edit(export)
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    _write_district(mappings, generated, GOOD, loaded.good_export)
    _write_district(mappings, generated, BAD, export)
    result = materialize(Loaded(loaded.warehouse, mappings, export, ""), BAD)
    message = failure_text(result)
    context = f"{case.id} ({case.input}): expected {case.outcome} {case.fragment!r}; got " \
              f"success={result.success}, message:\n{message[:1500]}"
    if case.outcome == "refused":
        assert not result.success, context
        assert case.fragment in message, context
        assert "nothing was loaded" in message, context
    else:
        assert result.success, context
    assert fingerprint(loaded.warehouse) == loaded.fingerprint, \
        f"{context}\nthe warehouse changed: earlier rows were not kept intact"
