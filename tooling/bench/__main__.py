"""`python -m tooling.bench --mode smoke|quick|district [--json PATH] [--no-dlt]`."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pipeline.config import project_root
from tooling.bench.harness import Measured
from tooling.bench.report import goals, goals_table, machine, markdown, table
from tooling.bench.scenario import SCENARIOS, dlt_installed, run_scenario

DEFAULT_JSON = project_root() / ".passback" / "bench" / "results.json"


DESCRIPTION = "Each stage at district scale beside its baseline, in one run."


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The benchmark's options, for `python -m tooling.bench` and `passback bench` alike."""
    parser.add_argument("--mode", choices=sorted(SCENARIOS), default="quick",
                        help="smoke: 100 students (the test); quick: 1,000; "
                             "district: 1,000 and 50,000")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument("--no-dlt", action="store_true",
                        help="skip the dlt baseline (it is skipped anyway if dlt is missing)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the scratch folders (districts, warehouses, stage logs) here")
    parser.add_argument("--render", type=Path, default=None, metavar="RESULTS_JSON",
                        help="only print an earlier run's results as Markdown tables")
    return parser


def _parser() -> argparse.ArgumentParser:
    return add_arguments(argparse.ArgumentParser(prog="python -m tooling.bench",
                                                 description=DESCRIPTION))


def main(argv: list[str] | None = None) -> int:
    """Run every scenario of the mode; print the tables; write the JSON. Exit 1 if a stage
    failed (a missed goal is a figure to read, not a failure of the run)."""
    return run(_parser().parse_args(argv), argv)


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    """Run the benchmark for parsed arguments (see `main`)."""
    if args.render:
        print(markdown(json.loads(args.render.read_text(encoding="utf-8"))))
        return 0
    with_dlt = not args.no_dlt and dlt_installed()
    if not with_dlt:
        print("dlt is not installed (pip install -e '.[bench]'): no extract baseline",
              file=sys.stderr)
    before = machine()
    command = "python -m tooling.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"{command}\n{before['cores']} cores, {before['memory_mib']:,} MiB, Python "
          f"{before['python']}, load average {before['load_average'][0]:.2f}", flush=True)
    started = time.perf_counter()
    measured: list[Measured] = []
    scratch = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="passback-bench-"))
    try:
        for scenario in SCENARIOS[args.mode]:
            measured += run_scenario(
                scenario, scratch / f"{scenario.students}", with_dlt=with_dlt,
                report=lambda m: print(f"  {m.scenario}: {m.stage} done", flush=True))
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    found = goals(measured)
    print("\n" + table(measured) + "\n\n" + goals_table(found))
    document = {
        "command": command, "mode": args.mode, "finished_at": datetime.now(UTC).isoformat(),
        "wall_seconds": round(time.perf_counter() - started, 1), "dlt_baseline": with_dlt,
        "machine": before, "load_average_after": machine()["load_average"],
        "stages": [m.as_json() for m in measured], "goals": found}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")
    print(f"\nJSON: {args.json}")
    return 1 if any("error" in m.figures for m in measured) else 0


if __name__ == "__main__":
    raise SystemExit(main())
