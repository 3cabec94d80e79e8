"""One scenario (a district of N students): every stage and its baseline, in one run.

Order: generate; extract with our client, then with dlt, from one sandbox; rules, then the
same logic in plain SQL; the sink against a sandbox with 20 ms latency; end to end through
Dagster against a fresh sandbox of the generated district.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tooling.bench.harness import (
    Measured,
    StageFailed,
    point_at_sandbox,
    run_stage,
    sandbox_process,
)

PROFILE = "infinite_campus"  # OneRoster 1.2, OAuth 2, vendor header: the fullest wire path
CSV_MAX_STUDENTS = 20_000  # `passback generate` writes Parquet above this, as here
QUARTERS = 4  # the generator's grading periods: one rules partition holds about a quarter


@dataclass(frozen=True)
class Scenario:
    """A district size and how each stage is sized for it."""

    students: int
    sink_line_items: int  # the sink's synthetic warehouse: line items x 25 students each
    sink_classes: int
    sink_baseline_records: int = 400  # the sequential loop: at 20 ms, ~40-50 requests/s
    sink_bare_records: int = 1500  # bare parallel http.client: ~6 s at the ceiling
    sink_changed: int = 25  # k scores changed before the second delta
    e2e_dry_run: bool = False  # True when sending every result would take hours
    # The first sync of a grading period by 1.2 bulk POSTs (0: skipped): line items x 25
    # students each, to a fresh sandbox.
    sink_bulk_line_items: int = 0

    @property
    def name(self) -> str:
        """How the scenario is named in the table and JSON."""
        return f"{self.students:,} students"


SCENARIOS = {
    "smoke": [Scenario(100, sink_line_items=8, sink_classes=8, sink_baseline_records=40,
                       sink_bare_records=100, sink_changed=5, sink_bulk_line_items=40)],
    "quick": [Scenario(1000, sink_line_items=100, sink_classes=40, sink_bulk_line_items=2400)],
    "district": [Scenario(1000, sink_line_items=100, sink_classes=40, sink_bulk_line_items=2400),
                 # 400 line items x 25 students: ~10,400 writes, ~42 s at the 250/s ceiling.
                 # By bulk, a grading period's 60 line items per class: 3 million results.
                 Scenario(50_000, sink_line_items=400, sink_classes=2000, e2e_dry_run=True,
                          sink_bulk_line_items=120_000)],
}


def dlt_installed() -> bool:
    """dlt is an optional extra (`.[bench]`): without it the extract baseline is skipped."""
    return importlib.util.find_spec("dlt") is not None


def run_scenario(scenario: Scenario, scratch: Path, *, seed: int = 7, with_dlt: bool = True,
                 report: Callable[[Measured], None] = lambda _: None) -> list[Measured]:
    """Every stage of one scenario; `report` is called as each one finishes."""
    measured: list[Measured] = []

    def stage(name: str, params: dict) -> Measured:
        try:
            result = run_stage(scenario.name, name, params, scratch / "stages")
        except StageFailed as failure:
            if name == "generate":
                raise  # nothing else can run without the district
            # One stage failing should not hide the others' figures: record it and go on.
            result = Measured(scenario.name, name, {"error": str(failure)}, 0.0, 0.0)
        measured.append(result)
        report(result)
        return result

    out = scratch / "district"
    generated = stage("generate", {
        "out": str(out), "students": scenario.students, "seed": seed, "profile": PROFILE,
        "fmt": "csv" if scenario.students <= CSV_MAX_STUDENTS else "parquet"})
    mapping = out / "mappings" / "demo.yaml"
    with sandbox_process(out / "oneroster", PROFILE) as sis:
        common = {"mapping_file": str(mapping), "page_size": 1000, "scratch": str(scratch),
                  "env": point_at_sandbox(mapping, sis)}
        stage("extract", {**common, "warehouse": str(scratch / "client.duckdb")})
        if with_dlt:
            stage("extract_dlt", {**common, "warehouse": str(scratch / "dlt.duckdb")})
    results = max(1, generated.figures["scores"] // QUARTERS)
    for name in ("rules", "rules_sql"):
        stage(name, {"results": results, "duckdb_memory": "512MB"})
    _sink(scenario, scratch, stage)
    # Two rounds at district size: each nightly plan of ~3 million records takes minutes.
    stage("plan_nightly", {"warehouse": str(scratch / "plan.duckdb"), "results": results,
                           "repeat": 6 if scenario.students <= 10_000 else 2})
    # Its baseline: the same first plan by the old planner, in a warehouse of its own.
    stage("plan_first_python", {"warehouse": str(scratch / "plan-python.duckdb"),
                                "results": results})
    _end_to_end(scenario, scratch, generated, stage)
    return measured


def _sink(scenario: Scenario, scratch: Path, stage: Callable[..., Measured]) -> None:
    """The sink against its own sandbox, which answers every request 20 ms after it arrived."""
    from tooling.bench.sink import LATENCY_MS
    from tooling.sandbox.bundle import synthetic_district, write_bundle

    bundle = write_bundle(scratch / "sink-bundle",
                          synthetic_district(scenario.students, scenario.sink_classes))
    with sandbox_process(bundle, PROFILE, f"latency_ms={LATENCY_MS}") as sis:
        stage("sink", {"root": sis.root, "warehouse": str(scratch / "sink.duckdb"),
                       "line_items": scenario.sink_line_items, "students": scenario.students,
                       "classes": scenario.sink_classes,
                       "baseline_records": scenario.sink_baseline_records,
                       "bare_records": scenario.sink_bare_records,
                       "changed": scenario.sink_changed})
    if scenario.sink_bulk_line_items:
        stage("sink_bulk", {"work": str(scratch), "bundle": str(bundle),
                            "line_items": scenario.sink_bulk_line_items,
                            "students": scenario.students, "classes": scenario.sink_classes})


def _end_to_end(scenario: Scenario, scratch: Path, generated: Measured,
                stage: Callable[..., Measured]) -> None:
    """`run_district` on the generated district, against a fresh sandbox (no writes yet)."""
    out = scratch / "district"
    mapping = out / "mappings" / "demo.yaml"
    with sandbox_process(out / "oneroster", PROFILE,
                         closed=generated.figures["closed_grading_periods"]) as sis:
        # The demo's budget: a loopback SIS is not throttled like the district's production one.
        env = point_at_sandbox(mapping, sis, concurrency=5, requests_per_second=2000)
        stage("end_to_end", {
            "env": env, "district": "demo", "as_of": generated.figures["as_of"],
            "warehouse": str(scratch / "e2e.duckdb"), "mappings_dir": str(mapping.parent),
            "dagster_home": str(scratch / "dagster_home"), "dry_run": scenario.e2e_dry_run})
