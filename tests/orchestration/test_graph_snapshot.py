"""A snapshot of the asset graph: an accidental change of lineage shows up in review.

After an intended change, refresh it with
`PASSBACK_UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/orchestration/test_graph_snapshot.py`
and commit the JSON beside this file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

SNAPSHOT = Path(__file__).with_name("graph_snapshot.json")


def _partitions(definition: dg.PartitionsDefinition | None) -> Any:
    if definition is None:
        return None
    if isinstance(definition, dg.MultiPartitionsDefinition):
        return {d.name: _partitions(d.partitions_def) for d in definition.partitions_defs}
    if isinstance(definition, dg.DynamicPartitionsDefinition):
        return f"dynamic:{definition.name}"
    return type(definition).__name__


def graph_snapshot() -> dict[str, Any]:
    """What a reviewer should see change: assets, edges, checks, partitions, automation."""
    from passback.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": _partitions(node.partitions_def),
            "owners": list(node.owners),
            "checks": sorted(c.name for c in node.check_keys),
        }
    repository = defs.get_repository_def()
    return {
        "assets": assets,
        "jobs": sorted(job.name for job in repository.get_all_jobs()),
        "schedules": {s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone,
                               "job": s.job_name}
                      for s in repository.schedule_defs},
        "sensors": sorted(s.name for s in repository.sensor_defs),
    }


def test_graph_matches_snapshot() -> None:
    current = graph_snapshot()
    if os.environ.get("PASSBACK_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    recorded = json.loads(SNAPSHOT.read_text())
    assert current == recorded, "the asset graph changed: review it, then refresh the snapshot"


def test_lineage_reads_from_sources_to_the_sis() -> None:
    assets = graph_snapshot()["assets"]
    raw = {key for key in assets if key.startswith(("otus/", "sis/"))}
    assert all(not assets[key]["deps"] for key in raw), "raw tables read only sources"
    assert raw - {"sis/line_items", "sis/results"} <= set(assets["passback/line_items"]["deps"])
    # The sink reads what passed the rules, and the SIS's gradebook as last read (reconciling).
    assert assets["passback/sis_sync"]["deps"] == ["passback/line_items", "passback/results",
                                                   "sis/line_items", "sis/results"]
    # ... and ends at the SIS: its gradebook, drawn (not run) downstream of the sink.
    assert assets["sis_gradebook"]["deps"] == ["passback/sis_sync"]
    assert assets["passback/sis_sync"]["partitions"] == {
        "district": "StaticPartitionsDefinition", "grading_period": "dynamic:grading_period"}
