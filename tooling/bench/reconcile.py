"""Planning at district scale: the first plan of a grading period and the nightly plan.

A warehouse of N accepted results (25 students per line item) is planned once (the first
sync's plan, every record a create), its ledger then filled as if the SIS had accepted every
write, and `sis.line_items` / `sis.results` as if the nightly read had found each record as
written. The nightly plan (every record unchanged) is then timed with the ledger alone and
with the SIS compared, alternating, `repeat` times each; the overhead compares the fastest
round of each.

`--planner sql` (the default) is the plan as `run_sync` makes it: built, hashed and compared
in DuckDB and written to `passback.sync_plan` (pipeline/sink/plan.py). `--planner python` is
the planner it replaced (tooling/bench/baseline_plan.py), its actions kept in a list, for the
figures beside it; run each in its own process, so each peak RSS is its own.

    python -m tooling.bench.reconcile --results 3200000 --repeat 2 [--planner python]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.config import DistrictConfig
from pipeline.sink.planner import write_plan
from pipeline.warehouse import connect, transaction
from tooling.bench import baseline_plan
from tooling.bench.sink import DISTRICT, GRADING_PERIOD, district

AS_OF = date(2026, 11, 2)
FILL_MEMORY = "1GB"
PER_LINE_ITEM = 25
_FILL = """
INSERT INTO passback.line_items BY NAME
SELECT $district AS district, $gp AS grading_period_sourced_id, 'li-' || n AS sourced_id,
       'a-' || n AS assignment_id, 'm-' || n AS assessment_id,
       'class-' || (n // 10) AS class_sourced_id, 'school' AS school_sourced_id,
       'Quiz ' || n AS title, DATE '2026-10-01' AS assign_date, DATE '2026-10-20' AS due_date,
       'cat' AS category_sourced_id, 0.0 AS result_value_min, 10.0 AS result_value_max,
       'active' AS status, now() AS updated_at, $as_of AS as_of, now() AS computed_at
FROM range($line_items) t(n);
INSERT INTO passback.results BY NAME
SELECT $district AS district, $gp AS grading_period_sourced_id,
       'r-' || n || '-' || k AS sourced_id, 'li-' || n AS line_item_sourced_id,
       'a-' || n AS assignment_id, 'class-' || (n // 10) AS class_sourced_id,
       'student-' || ((n // 10) * 25 + k) AS student_sourced_id, (k % 10)::DOUBLE AS score,
       'fully graded' AS score_status, DATE '2026-10-20' AS score_date,
       FALSE AS missing_is_zero, 'active' AS status, now() AS updated_at, $as_of AS as_of,
       now() AS computed_at
FROM range($line_items) t(n), range(25) s(k);
INSERT INTO sis.academic_sessions (district, sourced_id, type, start_date, end_date)
VALUES ($district, $gp, 'gradingPeriod', DATE '2026-08-01', DATE '2027-06-30');
"""
# What the nightly read finds: every record as written, modified before the ledger's write.
_MIRROR = """
INSERT INTO sis.line_items BY NAME
SELECT district, sourced_id, status, $modified AS date_last_modified, title, description,
       assign_date, due_date, class_sourced_id, category_sourced_id, grading_period_sourced_id,
       result_value_min, result_value_max
FROM passback.line_items WHERE district = $district;
INSERT INTO sis.results BY NAME
SELECT district, sourced_id, status, $modified AS date_last_modified, line_item_sourced_id,
       student_sourced_id, class_sourced_id, score_status, score, score_date
FROM passback.results WHERE district = $district;
INSERT OR REPLACE INTO passback.sis_reads
SELECT $district, entity, $read, $read, 'incremental', 0, 0
FROM (VALUES ('line_items'), ('results')) v(entity);
"""


def _run(conn: Any, script: str, params: dict[str, Any]) -> None:
    """Each statement of a script, with the parameters it names (DuckDB binds one at a time)."""
    for statement in filter(str.strip, script.split(";\n")):
        conn.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})


# The first plan's writes, accepted: the SQL plan's ledger from its stored rows.
_ACCEPT_STORED = """
INSERT INTO passback.sync_ledger (district, entity, sourced_id, grading_period_sourced_id,
    line_item_sourced_id, payload_hash, state, http_status, attempts, last_error,
    first_sent_at, last_sent_at, run_id)
SELECT district, entity, sourced_id, grading_period_sourced_id, line_item_sourced_id,
       payload_hash, 'sent', 200, 1, NULL, $sent, $sent, 'bench'
FROM passback.sync_plan WHERE district = $district AND run_id = $run_id
"""
_ACCEPT_LISTED = """
INSERT INTO passback.sync_ledger (district, entity, sourced_id, grading_period_sourced_id,
    line_item_sourced_id, payload_hash, state, http_status, attempts, last_error,
    first_sent_at, last_sent_at, run_id)
SELECT $district, entity, sourced_id, $gp, line_item_sourced_id, payload_hash, 'sent', 200, 1,
       NULL, $sent, $sent, 'bench'
FROM accepted
"""


def _plan(warehouse: Path, config: DistrictConfig, planner: str, run_id: str,
          reconcile: bool = True) -> dict[str, int]:
    """One plan of the partition by `planner`; its count per action (0s left out). The SQL
    plan is stored, as `run_sync` stores it; the Python plan keeps its actions in a list."""
    with connect(warehouse) as conn:
        if planner == "sql":
            with transaction(conn):
                plan = write_plan(conn, config, GRADING_PERIOD, as_of=AS_OF,
                                  target="passback.sync_plan", run_id=run_id, dry_run=True,
                                  reconcile=reconcile)
            return {name: n for name, n in plan.counts().items() if n}
        listed = baseline_plan.plan_partition(conn, config, GRADING_PERIOD, as_of=AS_OF,
                                              reconcile=reconcile)
    if run_id == "first":  # its writes become the ledger (see `prepare`)
        writes = [a for a in listed.actions if a.action != "unchanged"]
        _accept_listed(warehouse, writes)
    return dict(Counter(a.action for a in listed.actions))


def _accept_listed(warehouse: Path, writes: list[Any]) -> None:
    table = pa.table({"entity": [a.entity for a in writes],
                      "sourced_id": [a.sourced_id for a in writes],
                      "line_item_sourced_id": [a.line_item_sourced_id for a in writes],
                      "payload_hash": [a.payload_hash for a in writes]})
    with connect(warehouse) as conn, transaction(conn):
        conn.register("accepted", table)
        conn.execute(_ACCEPT_LISTED, {"district": DISTRICT, "gp": GRADING_PERIOD,
                                      "sent": _SENT})
        conn.unregister("accepted")


_SENT = datetime.now(UTC)


def prepare(warehouse: Path, results: int, planner: str = "sql") -> dict[str, Any]:
    """Fill the warehouse, plan the first sync (timed), record it as accepted and read back."""
    config = district("http://127.0.0.1:9")  # never contacted: planning sends nothing
    line_items = max(1, results // PER_LINE_ITEM)
    with connect(warehouse) as conn:
        # The fill is not measured: kept from raising the process's peak above the plan's.
        conn.execute(f"SET memory_limit = '{FILL_MEMORY}'")
        with transaction(conn):
            _run(conn, _FILL, {"district": DISTRICT, "gp": GRADING_PERIOD, "as_of": AS_OF,
                               "line_items": line_items})
    gc.collect()
    started = time.perf_counter()
    writes = _plan(warehouse, config, planner, "first")
    first_plan = time.perf_counter() - started
    first_rss = _peak_rss_mib()
    with connect(warehouse) as conn, transaction(conn):
        if planner == "sql":
            conn.execute(_ACCEPT_STORED, {"district": DISTRICT, "run_id": "first",
                                          "sent": _SENT})
        _run(conn, _MIRROR, {"district": DISTRICT, "modified": _SENT - timedelta(minutes=1),
                             "read": _SENT + timedelta(minutes=1)})
    return {"planner": planner, "line_items": line_items,
            "results": line_items * PER_LINE_ITEM, "first_plan_seconds": first_plan,
            "first_plan_writes": writes, "first_plan_peak_rss_mib": first_rss}


def _peak_rss_mib() -> float:
    """This process's peak RSS so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def nightly(warehouse: Path, reconcile: bool, planner: str = "sql",
            round_: int = 0) -> tuple[float, dict[str, int]]:
    """Seconds to plan the nightly run, and its actions."""
    config = district("http://127.0.0.1:9")
    started = time.perf_counter()
    actions = _plan(warehouse, config, planner, f"nightly-{reconcile}-{round_}", reconcile)
    return time.perf_counter() - started, actions


def measure(warehouse: Path, results: int, repeat: int = 3,
            planner: str = "sql") -> dict[str, Any]:
    """Prepare, then time the nightly plan with and without the SIS, alternating."""
    figures = prepare(warehouse, results, planner)
    timings: dict[bool, list[float]] = {False: [], True: []}
    actions: dict[bool, dict[str, int]] = {}
    for round_ in range(repeat):
        for reconcile in (False, True):
            gc.collect()  # the last round's plan is garbage: not this round's to collect
            seconds, actions[reconcile] = nightly(warehouse, reconcile, planner, round_)
            timings[reconcile].append(seconds)
    # The fastest of each: on a shared machine a slow round says more about the neighbours.
    ledger_only, reconciled = (min(timings[r]) for r in (False, True))
    return {**figures, "repeat": repeat, "ledger_only_seconds": timings[False],
            "reconciled_seconds": timings[True], "ledger_only_best": ledger_only,
            "reconciled_best": reconciled, "overhead": reconciled / ledger_only - 1,
            "ledger_only_median": statistics.median(timings[False]),
            "reconciled_median": statistics.median(timings[True]),
            "nightly_actions": actions[True], "seconds": reconciled,
            "peak_rss_mib": _peak_rss_mib()}


def main(argv: list[str] | None = None) -> int:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--planner", choices=("sql", "python"), default="sql")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        figures = measure(Path(scratch) / "plan.duckdb", args.results, args.repeat,
                          args.planner)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
