"""pipeline/graph.py: the stored partition key <-> grading period mapping and the run-config
builders agree with the code location."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import pytest

from pipeline.graph import (
    PASSBACK_JOB,
    full_refresh_run_config,
    grading_period_for_key,
    passback_run_config,
    store_grading_period_keys,
)
from pipeline.oneroster import ENDPOINTS
from pipeline.warehouse import ensure_schema


def _sessions(conn: duckdb.DuckDBPyConnection, district: str, *sourced_ids: str) -> None:
    for sourced_id in sourced_ids:
        conn.execute("INSERT INTO sis.academic_sessions (district, sourced_id, type, status, "
                     "title) VALUES (?, ?, 'gradingPeriod', 'active', ?)",
                     [district, sourced_id, sourced_id])


def test_two_periods_with_one_key_are_stored_and_the_lookup_names_both() -> None:
    with duckdb.connect() as conn:
        ensure_schema(conn)
        _sessions(conn, "d1", "Q1 2026", "Q1/2026", "Q2 2026")
        _sessions(conn, "d2", "Q1 2026")  # another district's period with the same key
        assert store_grading_period_keys(conn, "d1") == {"Q1_2026": ["Q1 2026", "Q1/2026"]}
        assert store_grading_period_keys(conn, "d2") == {}
        assert grading_period_for_key(conn, "d1", "Q2_2026") == "Q2 2026"
        assert grading_period_for_key(conn, "d2", "Q1_2026") == "Q1 2026"
        with pytest.raises(dg.Failure, match="'Q1_2026' of district d1 names 2 grading periods "
                                             r"\(Q1 2026, Q1/2026\)"):
            grading_period_for_key(conn, "d1", "Q1_2026")


def test_storing_again_replaces_the_district_rows() -> None:
    with duckdb.connect() as conn:
        ensure_schema(conn)
        _sessions(conn, "d1", "gp1")
        store_grading_period_keys(conn, "d1")
        conn.execute("DELETE FROM sis.academic_sessions WHERE sourced_id = 'gp1'")
        _sessions(conn, "d1", "gp2")
        store_grading_period_keys(conn, "d1")
        assert grading_period_for_key(conn, "d1", "gp2") == "gp2"
        with pytest.raises(dg.Failure, match="'gp1' of district d1 is not in"):
            grading_period_for_key(conn, "d1", "gp1")


def test_run_config_builders_name_ops_of_the_code_location() -> None:
    from passback.definitions import defs

    passback_ops = {node.name for node in defs.resolve_job_def(PASSBACK_JOB).graph.nodes}
    assert set(passback_run_config(date(2026, 10, 1), dry_run=True)["ops"]) <= passback_ops
    extract_ops = {node.name for node in defs.resolve_job_def("sis_full_refresh").graph.nodes}
    refreshed = set(full_refresh_run_config()["ops"])
    assert refreshed <= extract_ops and len(refreshed) == len(ENDPOINTS)


def test_dry_runs_are_tagged_and_sending_runs_are_not() -> None:
    from pipeline.graph import DRY_RUN_TAG, dry_run_tags, passback_partition_tags

    assert dry_run_tags(True) == {DRY_RUN_TAG: "true"} == {"passback/dry_run": "true"}
    assert dry_run_tags(False) == {}
    assert DRY_RUN_TAG not in passback_partition_tags("demo|sy2026-q1")  # demo sends


def test_grading_period_tags_say_closed_or_open() -> None:
    from pipeline.graph import GRADING_PERIOD_TAG, grading_period_tags

    assert grading_period_tags(True) == {GRADING_PERIOD_TAG: "closed"}
    assert grading_period_tags(False) == {"passback/grading_period": "open"}
