"""The grading-period sensor: discovers grading periods from the SIS extract's event log and
fans a nightly extract out to the open grading periods."""

from __future__ import annotations

import csv

import dagster as dg
import pytest

from pipeline.graph import GRADING_PERIODS, TRIGGER_TAG
from pipeline.orchestration import grading_period_sensor
from tests.orchestration.helpers import DISTRICT, District
from tooling.demo import point_at_sandbox
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run


def _extract(instance: dg.DagsterInstance, trigger: str, full_refresh: bool = False) -> None:
    from passback.definitions import defs

    job = defs.resolve_job_def("extract")
    ops = {"sis__academic_sessions": {"config": {"full_refresh": True}}} if full_refresh else {}
    result = job.execute_in_process(partition_key=DISTRICT, instance=instance,
                                    run_config={"ops": ops}, tags={TRIGGER_TAG: trigger})
    assert result.success


def _evaluate(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    result = grading_period_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    return result


def _new_keys(result: dg.SensorResult) -> list[str]:
    return [key for request in result.dynamic_partitions_requests or []
            for key in request.partition_keys]


def _grading_periods_in_bundle(district: District) -> list[str]:
    with (district.generated.oneroster_dir / "academicSessions.csv").open(newline="") as handle:
        return [r["sourcedId"] for r in csv.DictReader(handle) if r["type"] == "gradingPeriod"]


def _add_summer_grading_period(district: District) -> None:
    path = district.generated.oneroster_dir / "academicSessions.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    year = next(r for r in rows if r["type"] == "schoolYear")
    rows.append({**year, "sourcedId": "summer-session", "title": "Summer", "type": "gradingPeriod",
                 "startDate": "2027-06-01", "endDate": "2027-07-15",
                 "parentSourcedId": year["sourcedId"]})
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_sensor_adds_grading_periods_and_fans_out_a_nightly_extract(
        district: District, instance: dg.DagsterInstance) -> None:
    _extract(instance, trigger="nightly")
    first = _evaluate(instance, cursor=None)
    assert sorted(_new_keys(first)) == sorted(_grading_periods_in_bundle(district))
    # Nightly: one passback run per open, started grading period, tagged as the SIS writer.
    assert first.run_requests, "a nightly extract requests passback runs"
    for request in first.run_requests:
        assert request.partition_key.keys_by_dimension["district"] == DISTRICT
        assert request.tags["passback/sis_writer"] == DISTRICT
    closed = set(district.generated.closed_grading_periods)
    requested = {r.partition_key.keys_by_dimension[GRADING_PERIODS] for r in first.run_requests}
    assert not requested & closed
    assert first.cursor

    # Nothing new: no new partitions, no new runs.
    again = _evaluate(instance, cursor=first.cursor)
    assert _new_keys(again) == [] and again.run_requests == []

    # The SIS gains a grading period; a manual extract reports it; the sensor adds only it.
    _add_summer_grading_period(district)
    with SandboxSIS(district.generated.oneroster_dir, profile="infinite_campus",
                    closed_grading_periods=district.generated.closed_grading_periods,
                    credentials=district.sis.credentials) as sis:
        point_at_sandbox(district.generated.mapping_file, sis.url, sis.token_url)
        _extract(instance, trigger="manual", full_refresh=True)
    later = _evaluate(instance, cursor=first.cursor)
    assert _new_keys(later) == ["summer-session"]
    assert later.run_requests == []  # a manual extract does not start SIS writes
    assert "summer-session" in instance.get_dynamic_partitions(GRADING_PERIODS)


def test_a_district_removed_after_its_nightly_extract_gets_no_run_and_no_crash(
        district: District, instance: dg.DagsterInstance) -> None:
    _extract(instance, trigger="nightly")
    mapping = district.generated.mapping_file
    mapping.rename(mapping.with_suffix(".removed"))  # taken out between extract and tick
    result = _evaluate(instance, cursor=None)
    assert sorted(_new_keys(result)) == sorted(_grading_periods_in_bundle(district))
    assert result.run_requests == [] and result.cursor
