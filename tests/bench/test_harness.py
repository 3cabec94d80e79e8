"""The benchmark harness in its smallest mode: every stage runs and reports real figures.

Not a timed test: it checks the shape of results.json, that every stage produced positive
figures and a peak RSS, and the two sink facts that hold at any speed: a delta with no change
sends nothing, and changing k scores sends exactly k PUTs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

STAGES = {"generate", "extract", "rules", "rules_sql", "sink", "sink_bulk", "plan_nightly",
          "end_to_end"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One smoke run (~100 students, no dlt baseline), as `make bench` would run it."""
    folder = tmp_path_factory.mktemp("bench")
    out, kept = folder / "results.json", folder / "scratch"
    done = subprocess.run(
        [sys.executable, "-m", "tooling.bench", "--mode", "smoke", "--no-dlt", "--json",
         str(out), "--keep", str(kept)], cwd=REPO, capture_output=True, text=True, timeout=240)
    # A failed stage's own log says why: show its end with the harness's output.
    logs = "".join(f"\n--- {log}\n{log.read_text()[-2000:]}"
                   for log in sorted(kept.rglob("*.log")) if "Error" in log.read_text())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:] + logs
    return json.loads(out.read_text(encoding="utf-8"))


def _stages(results: dict) -> dict[str, dict]:
    return {s["stage"]: s for s in results["stages"]}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_stage_reports_positive_figures(results: dict) -> None:
    stages = _stages(results)
    assert set(stages) >= STAGES, f"missing stages: {STAGES - set(stages)}"
    for name, stage in stages.items():
        assert "error" not in stage["figures"], (name, stage["figures"])
        assert stage["peak_rss_mib"] > 0, name
        assert stage["process_seconds"] > 0, name
    assert stages["generate"]["figures"]["scores"] > 0
    for name in ("extract", "rules", "rules_sql"):
        assert stages[name]["figures"]["rows_per_second"] > 0, name
    assert stages["extract"]["figures"]["rows"] > 0
    assert stages["rules"]["figures"]["result_candidates"] > 0
    assert stages["end_to_end"]["figures"]["sent"] > 0
    assert stages["end_to_end"]["figures"]["step_seconds"]["passback__sis_sync"] > 0
    # Each Dagster step of the in-process run has its own peak RSS, none above the run's.
    steps = stages["end_to_end"]["figures"]["steps"]
    assert {"otus_export", "passback_rules", "passback__sis_sync"} <= set(steps)
    for step, figures in steps.items():
        assert 0 < figures["peak_rss_mib"] <= stages["end_to_end"]["peak_rss_mib"] + 1, step
    goals = {g["goal"] for g in results["goals"] if g["scenario"] == stages["end_to_end"]
             ["scenario"]}
    assert {"every Dagster step's peak RSS", "passback run peak RSS"} <= goals
    assert results["machine"]["cores"] >= 1


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_first_sync_by_bulk_sends_a_request_per_body(results: dict) -> None:
    bulk = _stages(results)["sink_bulk"]["figures"]
    # 100 students in 8 classes, 40 line items: 8 line-item bodies and 8 result bodies.
    assert bulk["write_mode"] == "bulk" and bulk["failed"] == 0 and bulk["refused"] == 0
    assert bulk["objects"] == 40 + bulk["results"] and bulk["results"] == 500
    assert bulk["requests"] <= 16 + 1  # + the token request
    assert bulk["rerun_requests"] == 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sink_deltas_send_nothing_or_exactly_k(results: dict) -> None:
    sink = _stages(results)["sink"]["figures"]
    assert sink["first_sync"]["requests"] > 0
    assert sink["first_sync"]["requests_per_second"] > 0
    assert sink["sequential_requests"]["requests_per_second"] > 0
    assert sink["delta_unchanged"]["requests"] == 0
    assert sink["delta_changed"]["writes"] == sink["delta_changed"]["k"] > 0
    goals = {g["goal"]: g for g in results["goals"]}
    assert goals["delta, nothing changed"]["met"]
    assert goals["delta, k scores changed"]["met"]
    # The nightly read-back is incremental: it fetches the k changed records, not the SIS.
    read = sink["nightly_read"]
    assert read["mode"] == "incremental" and 0 < read["rows"] < sink["full_read"]["rows"]
    assert sink["after_read"] == {"requests": 0, "restored": 0, "drift": 0}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_nightly_plan_with_the_sis_finds_everything_unchanged(results: dict) -> None:
    plan = _stages(results)["plan_nightly"]["figures"]
    assert plan["nightly_actions"] == {"unchanged": plan["line_items"] + plan["results"]}
    assert plan["ledger_only_best"] > 0 and plan["reconciled_best"] > 0
