"""The extract assets, materialized with Dagster into a real DuckDB file, against the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from assets.extract import build_extract_assets
from pipeline.graph import full_refresh_run_config, grading_period_for_key, grading_period_key
from pipeline.oneroster import ENDPOINTS, OneRosterResource
from pipeline.resources import Districts, Warehouse
from tests.extract.helpers import (
    CLASSES,
    DISTRICT,
    STUDENTS,
    district_yaml,
    line_item,
    write_otus_export,
)

PARTITIONS = dg.StaticPartitionsDefinition([DISTRICT])
ASSETS = build_extract_assets(PARTITIONS)
OTUS = ASSETS[0]
SIS = {ep: a for ep, a in zip(ENDPOINTS, ASSETS[1:], strict=True)}


@pytest.fixture
def district(tmp_path: Path, sandbox_factory: Any) -> dict[str, Any]:
    """A mappings folder with the district, its sandbox SIS and its Otus export."""
    sis = sandbox_factory("infinite_campus")
    mappings = tmp_path / "mappings"
    export = write_otus_export(tmp_path / "otus")
    district_yaml(mappings, sis, version="1.2", auth="oauth2", export=export)
    resources = {
        "warehouse": Warehouse(database=str(tmp_path / "warehouse.duckdb")),
        "districts": Districts(mappings_dir=str(mappings)),
        "oneroster": OneRosterResource(page_size=10, backoff_factor=0.01,
                                       backoff_max_seconds=0.05),
    }
    return {"sis": sis, "export": export, "resources": resources,
            "db": tmp_path / "warehouse.duckdb"}


def run(district: dict[str, Any], assets: list, run_config: dict | None = None,
        ok: bool = True) -> dg.ExecuteInProcessResult:
    result = dg.materialize(assets, partition_key=DISTRICT, resources=district["resources"],
                            run_config=run_config or {}, raise_on_error=False)
    assert result.success is ok, [e.message for e in result.all_events if e.is_failure]
    return result


def query(district: dict[str, Any], sql: str) -> list[tuple]:
    with duckdb.connect(str(district["db"]), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def metadata(result: dg.ExecuteInProcessResult, *key: str) -> dict[str, Any]:
    (event,) = [m for m in result.asset_materializations_for_node(
        "otus_export" if key[0] == "otus" else "__".join(key)) if m.asset_key.path == list(key)]
    return {k: v.value for k, v in event.metadata.items()}


def test_asset_graph_keys_groups_kinds_and_pool() -> None:
    specs = {spec.key.to_user_string(): spec for a in ASSETS for spec in a.specs}
    assert set(specs) == {f"otus/{n}" for n in ("users", "passback_group", "assessments",
                                                 "class_assignments", "scores")} | {
        f"sis/{n}" for n in ENDPOINTS}
    assert {s.group_name for k, s in specs.items() if k.startswith("sis/")} == {"sis_extract"}
    assert specs["otus/scores"].kinds == {"otus", "duckdb"}
    assert specs["sis/classes"].kinds == {"oneroster", "duckdb"}
    assert all(a.op.pool == "duckdb_warehouse" for a in ASSETS)
    assert all(spec.description and spec.description.startswith("Reads ")
               for spec in specs.values())


@pytest.mark.slow
def test_full_load_of_every_table(district: dict[str, Any]) -> None:
    result = run(district, ASSETS)
    counts = dict(query(district, "SELECT 'enrollments', count(*) FROM sis.enrollments UNION ALL "
                                  "SELECT 'scores', count(*) FROM otus.scores UNION ALL "
                                  "SELECT 'quarantine', count(*) FROM sis.quarantine"))
    assert counts == {"enrollments": STUDENTS + CLASSES, "scores": STUDENTS // CLASSES,
                      "quarantine": 1}
    enrollments = metadata(result, "sis", "enrollments")
    assert enrollments["mode"] == "full" and enrollments["quarantined"] == 1
    assert enrollments["new"] == STUDENTS + CLASSES and enrollments["pages"] == 5
    assert metadata(result, "otus", "scores")["rows"] == STUDENTS // CLASSES
    assert query(district, "SELECT grading_window_open FROM sis.academic_sessions "
                           "WHERE sourced_id = 'gp1'") == [(True,)]
    cursors = dict(query(district, "SELECT entity, cursor FROM passback.extract_cursors"))
    assert cursors["enrollments"] == "2026-09-01T00:00:00.000Z"


@pytest.mark.slow
def test_incremental_run_fetches_only_what_changed(district: dict[str, Any]) -> None:
    line_items = [SIS["line_items"]]
    run(district, line_items)
    sis = district["sis"]
    config = Districts(mappings_dir=district["resources"]["districts"].mappings_dir).get(DISTRICT)
    with district["resources"]["oneroster"].writer(config) as writer:
        assert writer.put("line_items", "li-new",
                          line_item("New quiz", sis.rostering_url, sis.gradebook_url)).ok
    result = run(district, line_items)
    meta = metadata(result, "sis", "line_items")
    assert (meta["mode"], meta["fetched"], meta["new"], meta["changed"]) == \
        ("incremental", 1, 1, 0)
    assert meta["rows"] == 3 and meta["pages"] == 1
    # A full refresh on demand reads everything again and finds nothing new.
    result = run(district, line_items, full_refresh_run_config_for("line_items"))
    meta = metadata(result, "sis", "line_items")
    assert (meta["mode"], meta["fetched"], meta["new"], meta["changed"]) == ("full", 3, 0, 0)


def full_refresh_run_config_for(entity: str) -> dict:
    config = full_refresh_run_config()
    return {"ops": {f"sis__{entity}": config["ops"][f"sis__{entity}"]}}


@pytest.mark.slow
def test_incremental_run_applies_tobedeleted(district: dict[str, Any]) -> None:
    enrollments = [SIS["enrollments"]]
    run(district, enrollments)
    with duckdb.connect(str(district["db"])) as conn:
        # As if enr-gone had been loaded while active, before the SIS marked it tobedeleted.
        conn.execute("INSERT INTO sis.enrollments (district, sourced_id, status) "
                     "VALUES (?, 'enr-gone', 'active')", [DISTRICT])
        conn.execute("UPDATE passback.extract_cursors SET cursor = '2026-08-01T00:00:00.000Z' "
                     "WHERE entity = 'enrollments'")
    meta = metadata(run(district, enrollments), "sis", "enrollments")
    assert (meta["mode"], meta["fetched"], meta["deleted"]) == ("incremental", 0, 1)
    assert query(district, "SELECT count(*) FROM sis.enrollments WHERE sourced_id = 'enr-gone'"
                 ) == [(0,)]


@pytest.mark.slow
def test_faults_do_not_stop_the_load(district: dict[str, Any]) -> None:
    district["sis"].set_faults("seed=11,error_rate=0.2,burst_429=2,retry_after_s=0")
    result = run(district, [SIS["users"]])
    meta = metadata(result, "sis", "users")
    assert meta["rows"] == STUDENTS + 1 and meta["retries"] > 0


@pytest.mark.slow
def test_bad_otus_export_leaves_the_previous_load_in_place(district: dict[str, Any]) -> None:
    run(district, [OTUS])
    before = query(district, "SELECT * FROM otus.scores ORDER BY student_sourced_id")
    scores = district["export"] / "scores.csv"
    lines = scores.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",graded,", ",finished,")
    scores.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (district["export"] / "users.csv").unlink()  # and another file is gone altogether
    result = run(district, [OTUS], ok=False)
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message  # type: ignore[union-attr]
    assert "scores.csv: column 'status' must be one of" in message
    assert "line 4 ('finished')" in message and "users: no users.csv" in message
    assert query(district, "SELECT * FROM otus.scores ORDER BY student_sourced_id") == before
    assert query(district, "SELECT count(*) FROM otus.users") == [(2,)]


def test_weekly_schedule_asks_a_full_refresh_per_district() -> None:
    from datetime import UTC, datetime

    from assets.extract import build_full_refresh_schedule

    job, schedule = build_full_refresh_schedule(PARTITIONS)
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 22, 2,
                                                                          tzinfo=UTC))
    (request,) = list(schedule(context))  # type: ignore[arg-type]
    assert request.partition_key == DISTRICT and request.run_key == f"{DISTRICT}-2026-11-22"
    assert request.run_config["ops"]["sis__results"]["config"] == {"full_refresh": True}
    assert set(request.run_config["ops"]) == {f"sis__{e}" for e in ENDPOINTS}
    assert schedule.cron_schedule == "0 2 * * 0" and job.name == "sis_full_refresh"


def test_sessions_extract_stores_the_grading_period_of_each_partition_key(
        district: dict[str, Any]) -> None:
    run(district, [SIS["academic_sessions"]])
    stored = query(district, "SELECT partition_key, grading_period_sourced_id FROM "
                             f"passback.grading_period_partitions WHERE district = '{DISTRICT}'")
    periods = query(district, "SELECT sourced_id FROM sis.academic_sessions "
                              "WHERE type = 'gradingPeriod'")
    assert stored and sorted(stored) == sorted((grading_period_key(p), p) for (p,) in periods)
    with duckdb.connect(str(district["db"]), read_only=True) as conn:
        assert grading_period_for_key(conn, DISTRICT, grading_period_key("gp1")) == "gp1"
        with pytest.raises(dg.Failure, match=f"'no-such-period' of district {DISTRICT}"):
            grading_period_for_key(conn, DISTRICT, "no-such-period")
