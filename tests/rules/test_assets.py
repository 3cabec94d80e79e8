"""The Dagster assets: a partition materializes the tables and the report, idempotently,
and a blocking check stops a meaningless run without touching the partition."""

from __future__ import annotations

import stat
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.transform.passback_rules import passback_rules
from assets.transform.quality_report import quality_report
from pipeline.resources import Districts, Warehouse
from tests.rules.helpers import World

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run

PARTITION = dg.MultiPartitionKey({"district": "demo", "grading_period": "gp1"})
CONFIG = {"ops": {"passback_rules": {"config": {"as_of": "2026-10-01"}}}}


def _materialize(db: Path) -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("grading_period", ["gp1", "gp2"])
    return dg.materialize(
        [passback_rules, quality_report], partition_key=PARTITION, instance=instance,
        resources={"warehouse": Warehouse(database=str(db)), "districts": Districts()},
        run_config=CONFIG, raise_on_error=False,
    )


def _count(db: Path, table: str) -> int:
    with duckdb.connect(str(db), read_only=True) as conn:
        return int(conn.sql(f"SELECT count(*) FROM passback.{table}").fetchall()[0][0])


@pytest.fixture
def demo_world() -> World:
    world = World()
    world.first("otus.scores")["excluded"] = True  # one rejection to report
    return world


def test_partition_materializes_tables_checks_and_report(demo_world: World, db: Path,
                                                         tmp_path: Path) -> None:
    demo_world.save(db)
    result = _materialize(db)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"roster_not_empty": True, "no_duplicate_keys": True,
                      "category_mapping_not_empty": True, "rule_rate_stable": True}
    assert (_count(db, "line_items"), _count(db, "results"), _count(db, "rejections")) == (1, 1, 1)
    report = tmp_path / "reports" / "demo" / "gp1" / "quality_report.html"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    mats = [m for m in result.get_asset_materialization_events()
            if m.asset_key == dg.AssetKey(["passback", "quality_report"])]
    metadata = mats[0].materialization.metadata
    assert metadata["report_path"].value == str(report)
    assert isinstance(metadata["report_path"], dg.PathMetadataValue)
    assert isinstance(metadata["report_url"], dg.UrlMetadataValue)
    assert metadata["report_url"].value == report.resolve().as_uri()
    summary = metadata["summary"].value  # the headline as Markdown, with a link to the page
    assert "excluded_score" in summary and "- Teachers must fix 1 score." in summary
    assert f"]({report.resolve().as_uri()})" in summary
    assert (metadata["to_fix"].value, metadata["closed"].value) == (1, False)
    again = _materialize(db)  # idempotent: the partition is replaced, not appended
    assert again.success and (_count(db, "results"), _count(db, "rejections")) == (1, 1)
    assert _count(db, "rule_stats") > 0


def test_empty_roster_blocks_and_writes_nothing(demo_world: World, db: Path) -> None:
    demo_world.tables["sis.classes"] = []
    demo_world.tables["sis.enrollments"] = []
    demo_world.save(db)
    result = _materialize(db)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["roster_not_empty"] is False
    assert _count(db, "line_items") == _count(db, "rejections") == 0
    assert not result.get_asset_materialization_events()
    # The step fails saying which check and why, not with a missing output of another check.
    [failure] = [e for e in result.all_events if e.is_step_failure]
    said = failure.step_failure_data.user_failure_data.description
    assert "blocking check failed" in said and "roster_not_empty" in said, said
    assert "rule_rate_stable" not in str(failure.step_failure_data.error)


def test_partition_reads_its_grading_period_from_the_stored_mapping(demo_world: World,
                                                                    db: Path) -> None:
    demo_world.save(db)
    with duckdb.connect(str(db)) as conn:  # what an extract of the renamed period would store
        conn.execute("UPDATE passback.grading_period_partitions SET partition_key = 'renamed' "
                     "WHERE grading_period_sourced_id = 'gp1'")
    result = _materialize(db)
    assert not result.success
    failure = result.failure_data_for_node("passback_rules")
    assert failure and "'gp1' of district demo is not in passback.grading_period_partitions" in (
        failure.error.message if failure.error else ""), failure


def test_report_escapes_teacher_entered_text(db: Path, tmp_path: Path) -> None:
    world = World()
    world.first("otus.assessments")["title"] = "<script>alert(1)</script>"
    world.first("otus.scores")["excluded"] = True
    world.save(db)
    assert _materialize(db).success
    html = (tmp_path / "reports" / "demo" / "gp1" / "quality_report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
