"""The sink asset in Dagster: materialized for a district x grading period partition."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.sink import sis_sync
from pipeline.oneroster import OneRosterResource
from pipeline.resources import Districts, Warehouse
from tests.sink.helpers import ENV, GP_FALL, Gradebook, district_config
from tooling.sandbox import SandboxSIS

# The asset's partitions are the districts of mappings/ at load time: the demo district.
DEMO = "demo"


def _materialize(tmp_path: Path, gradebook: Gradebook, sis: SandboxSIS,
                 run_config: dict | None = None,
                 instance: dg.DagsterInstance | None = None) -> dg.ExecuteInJobResult:
    mappings = tmp_path / "mappings"
    mappings.mkdir(exist_ok=True)
    config = district_config(sis, district=DEMO)
    (mappings / "demo.yaml").write_text(yaml.safe_dump(
        config.model_dump(mode="json", exclude={"source_file"})))
    instance = instance or dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("grading_period", [GP_FALL])
    return dg.materialize(
        [sis_sync], instance=instance,
        partition_key=dg.MultiPartitionKey({"district": DEMO, "grading_period": GP_FALL}),
        resources={"warehouse": Warehouse(database=str(gradebook.path)),
                   "districts": Districts(mappings_dir=str(mappings)),
                   "oneroster": OneRosterResource(backoff_factor=0.01)},
        run_config=run_config or {})


@pytest.mark.slow
def test_the_asset_writes_the_partition_and_reports_counts(
        tmp_path: Path, sandbox: SandboxSIS) -> None:
    gradebook = Gradebook(tmp_path / "warehouse.duckdb", district=DEMO)
    gradebook.add_line_items(2)
    gradebook.save()

    result = _materialize(tmp_path, gradebook, sandbox)

    assert result.success
    [materialization] = result.asset_materializations_for_node("passback__sis_sync")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["sent"] == 8 and metadata["requests"] >= 8 and metadata["failed"] == 0
    assert metadata["planned_create"] == 8 and metadata["unchanged"] == 0
    assert "Stu" not in str(metadata["sample_payloads"])  # no student names
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"no_failed_writes": True, "no_sis_refusals": True, "no_sis_drift": True}
    assert len(sandbox.store.results()) == 6

    again = _materialize(tmp_path, gradebook, sandbox)
    [materialization] = again.asset_materializations_for_node("passback__sis_sync")
    assert materialization.metadata["requests"].value == 0


@pytest.mark.slow
def test_a_dry_run_by_run_config_sends_nothing(tmp_path: Path, sandbox: SandboxSIS) -> None:
    gradebook = Gradebook(tmp_path / "warehouse.duckdb", district=DEMO)
    gradebook.add_line_items(1)
    gradebook.save()

    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(tmp_path, gradebook, sandbox,
                          {"ops": {"passback__sis_sync": {"config": {"dry_run": True}}}},
                          instance=instance)

    assert result.success and sandbox.request_log == []
    # A dry run is an observation, not a materialization: the sink's freshness is untouched.
    assert result.asset_materializations_for_node("passback__sis_sync") == []
    [observation] = result.asset_observations_for_node("passback__sis_sync")
    assert observation.metadata["dry_run"].value is True
    assert observation.metadata["planned_create"].value == 4
    assert observation.metadata["not_sent"].value == observation.metadata["objects"].value
    # Nothing was written: the checks pass, marked as a dry run's.
    assert {(e.check_name, e.passed, e.metadata["dry_run"].value)
            for e in result.get_asset_check_evaluations()} == {
        ("no_failed_writes", True, True), ("no_sis_refusals", True, True),
        ("no_sis_drift", True, True)}
    assert instance.get_latest_materialization_event(sis_sync.key) is None
    assert instance.get_run_by_id(result.run_id).tags["passback/dry_run"] == "true"


@pytest.mark.slow
def test_a_real_run_after_a_dry_run_materializes_and_is_not_tagged(
        tmp_path: Path, sandbox: SandboxSIS) -> None:
    gradebook = Gradebook(tmp_path / "warehouse.duckdb", district=DEMO)
    gradebook.add_line_items(1)
    gradebook.save()
    instance = dg.DagsterInstance.ephemeral()
    dry_run = {"ops": {"passback__sis_sync": {"config": {"dry_run": True}}}}

    real = _materialize(tmp_path, gradebook, sandbox, instance=instance)
    latest = instance.get_latest_materialization_event(sis_sync.key)
    dry = _materialize(tmp_path, gradebook, sandbox, dry_run, instance=instance)

    assert real.success and dry.success and latest is not None
    assert "passback/dry_run" not in instance.get_run_by_id(real.run_id).tags
    assert instance.get_run_by_id(dry.run_id).tags["passback/dry_run"] == "true"
    after = instance.get_latest_materialization_event(sis_sync.key)
    assert after is not None and after.run_id == real.run_id == latest.run_id


def test_sink_runs_carry_the_one_writer_per_district_tag() -> None:
    from passback.definitions import defs

    job = defs.resolve_job_def("sis_sync_job")
    assert job.partitioned_config is not None
    tags = job.partitioned_config.get_tags_for_partition_key(f"{DEMO}|{GP_FALL}")
    assert tags["passback/sis_writer"] == DEMO


@pytest.mark.slow
def test_wrong_credentials_fail_at_once_without_step_retries(
        tmp_path: Path, sandbox: SandboxSIS, monkeypatch: pytest.MonkeyPatch) -> None:
    gradebook = Gradebook(tmp_path / "warehouse.duckdb", district=DEMO)
    gradebook.add_line_items(1)
    gradebook.save()
    for name in ("secret", "client_secret"):
        monkeypatch.setenv(ENV[name], "not-the-secret")

    with pytest.raises(dg.Failure) as failed:
        _materialize(tmp_path, gradebook, sandbox)

    assert failed.value.allow_retries is False  # a transient-failure retry would not heal it
    assert "not-the-secret" not in str(failed.value.description)
    assert sandbox.store.line_items() == []
