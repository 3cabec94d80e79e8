"""The quality report at district scale: generate a district, load it, run the rules for its
open grading period (untimed), then time the report as the `passback/quality_report` asset
writes it (the period's page and CSVs and the district-level report), cold and warm, with
and without the teachers' files.

    python -m tooling.bench.quality_report --students 50000 --out /tmp/passback-report-bench

The warehouse is kept in `--out`, so a second call measures again without rebuilding it
(run a 50,000-student measurement under `flock /work/bench.lock`). With `--baseline DIR`,
`DIR` is a checkout of an older commit whose report is timed on the same warehouse in a
child process (its `checks.report` first on the path), for a figure beside its baseline.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

AS_OF = date(2026, 11, 2)  # the generated year's second quarter is open and under way
GRADING_PERIOD = "sy2026-q2"

_BASELINE = """
import json, sys, time
from pathlib import Path
import duckdb
from checks.report.data import load_report_data
from checks.report.render import write_report
root = Path(sys.argv[1])
seconds = []
for _ in range(2):
    started = time.perf_counter()
    with duckdb.connect(str(root / "warehouse.duckdb")) as conn:
        data = load_report_data(conn, "demo", sys.argv[2])
    write_report(data, root / "reports-baseline")
    seconds.append(round(time.perf_counter() - started, 2))
print(json.dumps(seconds))
"""


def prepare(students: int, out: Path) -> dict[str, Any]:
    """Generate and load the district and run the rules for the open period, once."""
    import duckdb

    from assets.transform.rules_run import compute_partition, write_partition
    from pipeline.config import load_district_file
    from pipeline.rule_settings import RunSettings
    from tooling.generate import generate_district
    from tooling.generate.load import load_generated

    db = out / "warehouse.duckdb"
    if db.exists():
        return {"prepared": "reused"}
    started = time.perf_counter()
    made = generate_district(out / "gen", students=students, seed=7, as_of=AS_OF)
    load_generated(made.otus_dir, made.oneroster_dir, db, made.district)
    settings = RunSettings.from_config(load_district_file(made.mapping_file), made.as_of)
    with duckdb.connect(str(db)) as conn:
        run = compute_partition(conn, settings, GRADING_PERIOD)
        assert write_partition(conn, run, "bench") == 0
    return {"prepared_seconds": round(time.perf_counter() - started, 1)}


def measure(out: Path) -> dict[str, Any]:
    """The report three times (cold, warm, with the teachers' files) on the kept warehouse."""
    import duckdb

    from checks.report.build import write_quality_report
    from pipeline.config import load_district_file

    config = load_district_file(out / "gen" / "mappings" / "demo.yaml")
    figures: dict[str, Any] = {}
    for name, per_teacher in (("cold", False), ("warm", False), ("per_teacher", True)):
        started = time.perf_counter()
        with duckdb.connect(str(out / "warehouse.duckdb")) as conn:
            written = write_quality_report(conn, config, GRADING_PERIOD,
                                           out / "reports" / "demo" / GRADING_PERIOD,
                                           today=AS_OF, per_teacher=per_teacher)
        figures[f"{name}_seconds"] = round(time.perf_counter() - started, 2)
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as conn:
        figures["rejection_rows"] = conn.sql("SELECT count(*) FROM passback.rejections"
                                             ).fetchall()[0][0]
    figures |= {
        "teachers": len(written.data.teachers),
        "html_mb": round(written.paths["html"].stat().st_size / 1e6, 1),
        "rejections_csv_mb": round(written.paths["rejections_csv"].stat().st_size / 1e6, 1),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }
    return figures


def baseline(checkout: Path, out: Path) -> list[float]:
    """The older report's seconds (twice) on the same warehouse, in a child process."""
    done = subprocess.run([sys.executable, "-c", _BASELINE, str(out), GRADING_PERIOD],
                          capture_output=True, text=True, check=True, cwd=checkout,
                          env={"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Prepare (once), measure, and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, help="a checkout of the commit to compare")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    figures = {"students": args.students, **prepare(args.students, args.out),
               **measure(args.out)}
    if args.baseline:
        figures["baseline_seconds"] = baseline(args.baseline, args.out)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
