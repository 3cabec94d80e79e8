"""The bad-SIS-answer corpus through the real `sis/enrollments` extract asset, against a
loopback server of our own: a clear failure, a quarantine row or a tolerated load, never a
partial commit, and the earlier load of both districts intact."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from assets.extract.sis import build_sis_asset
from pipeline.oneroster import OneRosterResource, endpoint
from pipeline.resources import Districts, Warehouse
from pipeline.warehouse import connect
from tests.reliability.corpus.sis_cases import SIS_CASES, SISCase
from tests.reliability.corpus.sis_server import GOOD_RECORDS, BadSIS, bad_sis, honest
from tests.reliability.helpers import district_file_at
from tests.reliability.test_corpus_otus import failure_text
from tooling.generate import GeneratedDistrict

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run

GOOD, BAD = "gooddist", "baddist"
ASSET = build_sis_asset(endpoint("enrollments"), dg.StaticPartitionsDefinition([GOOD, BAD]))
# Quick retries: the corpus is about answers, not patience.
ONEROSTER = OneRosterResource(max_retries=2, backoff_factor=0.01, backoff_max_seconds=0.02,
                              backoff_jitter=0.0, page_size=50)
SECRETS = {"RELIABILITY_SIS_CLIENT_ID": "corpus-client",
           "RELIABILITY_SIS_CLIENT_SECRET": "corpus-secret"}


def extract(warehouse: Path, mappings: Path, district: str) -> dg.ExecuteInProcessResult:
    """A full-refresh enrollments extract of one district, as a Dagster run."""
    return dg.materialize(
        [ASSET], partition_key=district, raise_on_error=False,
        run_config={"ops": {"sis__enrollments": {"config": {"full_refresh": True}}}},
        resources={"warehouse": Warehouse(database=str(warehouse)),
                   "districts": Districts(mappings_dir=str(mappings)), "oneroster": ONEROSTER})


def snapshot(warehouse: Path, district: str) -> tuple[str, list[str], int]:
    """(hash of every district's enrollments, this district's sourcedIds, its quarantine rows)."""
    with connect(warehouse, read_only=True) as conn:
        rows = conn.execute("SELECT * EXCLUDE (date_last_modified) FROM sis.enrollments "
                            "ORDER BY ALL").fetchall()
        ids = [r[0] for r in conn.execute("SELECT sourced_id FROM sis.enrollments WHERE "
                                          "district = ? ORDER BY 1", [district]).fetchall()]
        quarantined = conn.execute("SELECT count(*) FROM sis.quarantine WHERE district = ?",
                                   [district]).fetchall()[0][0]
    return hashlib.sha256(repr(rows).encode()).hexdigest(), ids, int(quarantined)


@pytest.fixture(scope="module")
def server() -> Iterator[BadSIS]:
    """The bad SIS, with the corpus district's secrets in the environment."""
    with pytest.MonkeyPatch.context() as patch, bad_sis() as running:
        for name, value in SECRETS.items():
            patch.setenv(name, value)
        yield running


@pytest.fixture(scope="module")
def loaded(server: BadSIS, generated: GeneratedDistrict,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(warehouse, mappings) with both districts loaded from the honest SIS; copied per case."""
    root = tmp_path_factory.mktemp("sis-corpus")
    mappings, warehouse = root / "mappings", root / "warehouse.duckdb"
    mappings.mkdir()
    server.scenario, server.records = honest, GOOD_RECORDS
    for district in (GOOD, BAD):
        district_file_at(mappings, generated, district, server.url,
                         secrets=(*SECRETS,))
        assert extract(warehouse, mappings, district).success
    return warehouse, mappings


@pytest.mark.parametrize("case", SIS_CASES, ids=[c.id for c in SIS_CASES])
def test_bad_sis_answer(case: SISCase, server: BadSIS, loaded: tuple[Path, Path],
                        tmp_path: Path) -> None:
    """Both districts loaded from an honest SIS; then the bad district's SIS misbehaves."""
    warehouse, mappings = tmp_path / "warehouse.duckdb", loaded[1]
    shutil.copyfile(loaded[0], warehouse)
    server.requests = 0
    before = snapshot(warehouse, BAD)
    good_before = snapshot(warehouse, GOOD)
    server.scenario, server.records = case.scenario, case.records
    try:
        result = extract(warehouse, mappings, BAD)
    finally:
        server.scenario, server.records = honest, GOOD_RECORDS
    after = snapshot(warehouse, BAD)
    message = failure_text(result)
    context = (f"{case.id} ({case.input}): expected {case.outcome} {case.fragment!r}; got "
               f"success={result.success} after {server.requests} requests, rows "
               f"{after[1]}, quarantined {after[2]}\n{message[:1500]}")
    assert snapshot(warehouse, GOOD)[1] == good_before[1], context  # the other district
    if case.outcome == "failed":
        assert not result.success and case.fragment in message, context
        assert after == before, f"{context}\npartial commit: the earlier load changed"
        return
    assert result.success, context
    wanted = sorted(r["sourcedId"] for r in case.records if r.get("sourcedId"))
    if case.outcome == "quarantined":
        assert after[2] == case.quarantined, context
        with connect(warehouse, read_only=True) as conn:
            reasons = [r[0] for r in conn.execute(
                "SELECT reason FROM sis.quarantine WHERE district = ?", [BAD]).fetchall()]
        assert all(case.fragment in reason for reason in reasons), f"{context}\n{reasons}"
        assert len(after[1]) == len(case.records) - case.quarantined, context
    else:
        assert after[1] == wanted, context
        assert after[1] == sorted(r["sourcedId"] for r in GOOD_RECORDS), context
