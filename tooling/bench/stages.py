"""The stages other than extract, as run inside a worker process: each returns its figures.

Rules reuses `tooling.bench.rules` (its synthetic raw tables, the production candidate SQL, the
rules stage and the plain-SQL version of the same logic); the sink reuses `tooling.bench.sink`
(its warehouse of accepted records, its district, its sequential `requests` loop).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from tooling.bench.steps import SAMPLED_PEAK
from tooling.generate import generate_district


def generate(params: dict[str, Any]) -> dict[str, Any]:
    """`generate_district` at the scenario's size, in the format the CLI picks for it."""
    started = time.perf_counter()
    generated = generate_district(Path(params["out"]), students=params["students"],
                                  seed=params["seed"], profile=params["profile"],
                                  fmt=params["fmt"])
    seconds = time.perf_counter() - started
    counts = generated.counts
    oneroster = sum(v for k, v in counts.items() if k.startswith("oneroster."))
    return {"seconds": seconds, "students": params["students"], "scores": counts["scores"],
            "oneroster_rows": oneroster, "scores_per_second": counts["scores"] / seconds,
            "as_of": generated.as_of.isoformat(),
            "closed_grading_periods": generated.closed_grading_periods}


def _rules(params: dict[str, Any], plain_sql: bool) -> dict[str, Any]:
    """Raw tables and candidates (untimed), then one of the two eligibility passes (timed)."""
    import duckdb

    from pipeline.warehouse import ensure_schema
    from tooling.bench import rules as br

    classes = max(1, params["results"] // (br.STUDENTS_PER_CLASS * br.ASSIGNMENTS_PER_CLASS))
    with tempfile.TemporaryDirectory(prefix="passback-bench-rules-") as folder:
        conn = duckdb.connect(str(Path(folder) / "rules.duckdb"))
        ensure_schema(conn)
        # The same DuckDB share of the 1.5 GiB budget that bench_rules gives both sides.
        conn.execute(f"SET memory_limit = '{params['duckdb_memory']}'")
        for statement in br._generate_sql(classes):
            conn.execute(statement)
        line_items = br._line_items(conn)
        br._result_candidates(conn, line_items)
        candidates = conn.sql("SELECT count(*) FROM rc").fetchall()[0][0]
        conn.register("li_context", line_items[["assignment_id", "title", "class_title"]])
        started = time.perf_counter()
        if plain_sql:
            accepted, rejections = br._plain_sql(conn)
        else:
            context = line_items.set_index("assignment_id")[["title", "class_title"]]
            accepted, rejections = br._rules_stage(conn, context)
        seconds = time.perf_counter() - started
        conn.close()
    return {"seconds": seconds, "result_candidates": candidates, "accepted": accepted,
            "rejection_rows": rejections, "rows_per_second": candidates / seconds}


def rules(params: dict[str, Any]) -> dict[str, Any]:
    """The rules stage: pandera checks over Arrow-backed pandas, as the asset runs them."""
    return _rules(params, plain_sql=False)


def rules_sql(params: dict[str, Any]) -> dict[str, Any]:
    """The same eligibility logic as one DuckDB SQL script."""
    return _rules(params, plain_sql=True)


def sink(params: dict[str, Any]) -> dict[str, Any]:
    """First full sync, the sequential baseline, a no-change delta and a k-change delta."""
    from tooling.bench import sink as sb

    warehouse = Path(params["warehouse"])
    sb.fill_warehouse(warehouse, params["line_items"], params["students"], params["classes"])
    config = sb.district(params["root"])
    # Before the first sync, while every record is still planned: the same payloads.
    sequential = sb.sequential_loop(config, warehouse, params["baseline_records"])
    # Bare http.client threads at the same concurrency: what this machine allows right now.
    bare = sb.bare_parallel_loop(config, warehouse, params["bare_records"])
    first = sb.sync_once(config, warehouse)
    unchanged = sb.sync_once(config, warehouse)
    first_read = sb.read_back(config, warehouse, full=True)  # the weekly full refresh's read
    sb.change_scores(warehouse, params["changed"])
    changed = sb.sync_once(config, warehouse)
    nightly_read = sb.read_back(config, warehouse, full=False)  # reads back the k changes
    reconciled = sb.sync_once(config, warehouse)
    ceiling = sb.CONCURRENCY / (sb.LATENCY_MS / 1000)
    return {
        "latency_ms": sb.LATENCY_MS, "concurrency": sb.CONCURRENCY, "ceiling_rps": ceiling,
        "first_sync": {"objects": first.counters.sent, "requests": first.requests,
                       "seconds": first.seconds, "requests_per_second": first.rate,
                       "share_of_ceiling": first.rate / ceiling,
                       "failed": first.counters.failed, "refused": first.counters.refused},
        "sequential_requests": {"records": params["baseline_records"],
                                "requests_per_second": sequential},
        "bare_parallel": {"records": params["bare_records"], "requests_per_second": bare},
        "delta_unchanged": {"requests": unchanged.requests,
                            "writes": unchanged.counters.writes},
        "delta_changed": {"k": params["changed"], "writes": changed.counters.writes,
                          "requests": changed.requests, "seconds": changed.seconds},
        "full_read": first_read, "nightly_read": nightly_read,
        "after_read": {"requests": reconciled.requests, "restored": reconciled.planned["restore"],
                       "drift": reconciled.planned["overwrite"] + reconciled.planned["kept"]},
    }


def end_to_end(params: dict[str, Any]) -> dict[str, Any]:
    """`run_district` through Dagster: extract, rules and sink for the open grading period."""
    os.environ.update(params["env"])
    os.environ.update({"PASSBACK_WAREHOUSE": params["warehouse"],
                       "PASSBACK_MAPPINGS_DIR": params["mappings_dir"],
                       "DAGSTER_HOME": params["dagster_home"]})
    from passback.run import run_district
    from tooling.bench.steps import PeakSampler, step_figures

    started = time.perf_counter()
    with PeakSampler() as sampler:  # the run is this process: each step's peak, sampled
        outcome = run_district(params["district"], as_of=date.fromisoformat(params["as_of"]),
                               dry_run=params["dry_run"], log=lambda _: None)
    seconds = time.perf_counter() - started
    if not outcome.success:
        raise RuntimeError(f"run_district failed: extract run {outcome.extract_run_id}")
    sync = "passback/sis_sync"
    periods = [{"grading_period": p.grading_period.sourced_id,
                **{key: p.value(sync, key, 0) for key in (
                    "planned", "sent", "requests", "failed", "refused", "rate_per_second",
                    "duration_seconds")}}
               for p in outcome.periods]
    run_ids = [outcome.extract_run_id, *(p.run_id for p in outcome.periods)]
    steps = step_figures(run_ids, sampler)
    return {"seconds": seconds, "dry_run": params["dry_run"], "periods": periods,
            "sent": sum(p["sent"] for p in periods), "steps": steps,
            "step_seconds": {step: f["seconds"] for step, f in steps.items()},
            "peak_rss_exact": sampler.resets,
            # The sampler resets the kernel's high-water mark, so the ru_maxrss the harness
            # reads at exit covers only the last interval: this is the whole run's peak.
            SAMPLED_PEAK: sampler.peak_mib(0.0, float("inf"))}


def plan_nightly(params: dict[str, Any]) -> dict[str, Any]:
    """The nightly plan of a synced partition, with the ledger alone and with the SIS."""
    from tooling.bench.reconcile import measure

    return measure(Path(params["warehouse"]), params["results"], params.get("repeat", 3))


def sink_bulk(params: dict[str, Any]) -> dict[str, Any]:
    """The first sync of a grading period by OneRoster 1.2 bulk POSTs (fresh sandbox)."""
    from tooling.bench import sink as sb

    return sb.bulk_first_sync(Path(params["work"]), Path(params["bundle"]),
                              params["line_items"], params["students"], params["classes"])


def plan_first_python(params: dict[str, Any]) -> dict[str, Any]:
    """The baseline of planning: the first plan of the same partition by the old planner
    (tooling/bench/baseline_plan.py, a Python dict and hash per row)."""
    from tooling.bench.reconcile import prepare

    figures = prepare(Path(params["warehouse"]), params["results"], "python")
    return {**figures, "seconds": figures["first_plan_seconds"]}


STAGES = {"generate": generate, "rules": rules, "rules_sql": rules_sql, "sink": sink,
          "sink_bulk": sink_bulk,
          "plan_nightly": plan_nightly, "plan_first_python": plan_first_python,
          "end_to_end": end_to_end}
