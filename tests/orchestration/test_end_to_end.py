"""The whole graph through Dagster against the sandbox SIS over loopback HTTP."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from passback.run import run_district
from tests.orchestration.helpers import DISTRICT, District

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run


def _warehouse_objects(district: District, grading_period: str) -> tuple[set[str], set[str]]:
    with duckdb.connect(str(district.warehouse), read_only=True) as conn:
        items = {row[0] for row in conn.execute(
            "SELECT sourced_id FROM passback.line_items WHERE grading_period_sourced_id = ?",
            [grading_period]).fetchall()}
        results = {row[0] for row in conn.execute(
            "SELECT r.sourced_id FROM passback.results r JOIN passback.line_items l "
            "ON l.sourced_id = r.line_item_sourced_id WHERE l.grading_period_sourced_id = ?",
            [grading_period]).fetchall()}
    return items, results


def test_run_writes_exactly_what_passed_and_a_rerun_sends_nothing(
        district: District, instance: dg.DagsterInstance) -> None:
    as_of = district.generated.as_of
    first = run_district(DISTRICT, as_of=as_of, instance=instance, log=lambda _: None)
    assert first.success, first
    [period] = first.periods  # the generated year has one open, started quarter
    assert not period.grading_period.closed
    assert {p.sourced_id for p in first.skipped} >= set(district.generated.closed_grading_periods)

    items, results = _warehouse_objects(district, period.grading_period.sourced_id)
    assert items and results
    assert {r["sourcedId"] for r in district.sis.store.line_items()} == items
    assert {r["sourcedId"] for r in district.sis.store.results()} == results
    assert period.value("passback/sis_sync", "sent") == len(items) + len(results)
    assert period.value("passback/rejections", "rejects") > 0  # planted problems were found
    assert set(instance.get_dynamic_partitions("grading_period")) >= {
        period.grading_period.partition_key}

    puts_before = sum(1 for method, *_ in district.sis.request_log if method == "PUT")
    # A full reload of the SIS changes nothing the sink would send.
    second = run_district(DISTRICT, as_of=as_of, instance=instance, full_refresh=True,
                          log=lambda _: None)
    assert second.success
    assert second.periods[0].value("passback/sis_sync", "sent") == 0
    assert sum(1 for method, *_ in district.sis.request_log if method == "PUT") == puts_before


def test_one_partition_materialized_with_dagster_materialize(
        district: District, instance: dg.DagsterInstance) -> None:
    from passback.definitions import defs

    as_of = district.generated.as_of.isoformat()
    extract = run_district(DISTRICT, as_of=district.generated.as_of, instance=instance,
                           dry_run=True, log=lambda _: None)
    assert extract.success and extract.periods[0].value("passback/sis_sync", "sent") == 0
    assert district.sis.store.line_items() == []  # the dry run sent nothing
    # Tagged in the run list, and not a materialization: the sink's freshness is untouched.
    dry_run_id = extract.periods[0].run_id
    assert instance.get_run_by_id(dry_run_id).tags["passback/dry_run"] == "true"
    latest = instance.get_latest_materialization_event(dg.AssetKey(["passback", "sis_sync"]))
    assert latest is None or latest.run_id != dry_run_id
    assert extract.periods[0].value("passback/sis_sync", "dry_run") is True
    # The report follows the sink, and a dry run's sink yields no output: it still runs.
    report = extract.periods[0].value("passback/quality_report", "report_path")
    assert report and Path(report).is_file()
    period = extract.periods[0].grading_period

    graph_assets = [defs.resolve_assets_def(key) for key in (
        dg.AssetKey(["passback", "line_items"]), dg.AssetKey(["passback", "sis_sync"]),
        dg.AssetKey(["passback", "quality_report"]))]
    result = dg.materialize(
        list({id(a): a for a in graph_assets}.values()),
        partition_key=dg.MultiPartitionKey({"district": DISTRICT,
                                            "grading_period": period.partition_key}),
        instance=instance,
        run_config={"ops": {"passback_rules": {"config": {"as_of": as_of}},
                            "passback__sis_sync": {"config": {"as_of": as_of}}}},
        tags={"passback/sis_writer": DISTRICT},
    )
    assert result.success
    items, results = _warehouse_objects(district, period.sourced_id)
    assert {r["sourcedId"] for r in district.sis.store.line_items()} == items
    assert len(district.sis.store.results()) == len(results)
