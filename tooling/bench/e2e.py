"""`python -m tooling.bench.e2e --students N [--dry-run] [--keep DIR]`: the end-to-end stage
alone, with each Dagster step's wall time and peak RSS.

The full harness measures every stage for 17 minutes; a change to one step is measured
faster here: the district is generated (untimed), then `run_district` runs in its own
process against a fresh sandbox, exactly as the harness's end-to-end stage does.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from tooling.bench.harness import Measured, run_stage
from tooling.bench.report import goals as read_goals
from tooling.bench.report import goals_table, table
from tooling.bench.scenario import CSV_MAX_STUDENTS, PROFILE, Scenario, _end_to_end


def main(argv: list[str] | None = None) -> int:
    """Generate, run end to end, print the stage, its steps and the goals read off them."""
    parser = argparse.ArgumentParser(prog="python -m tooling.bench.e2e",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--dry-run", action="store_true", help="plan only, send nothing")
    parser.add_argument("--keep", type=Path, default=None, help="keep the scratch folder")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    scenario = Scenario(args.students, sink_line_items=0, sink_classes=0,
                        e2e_dry_run=args.dry_run)
    with tempfile.TemporaryDirectory(prefix="passback-e2e-") as folder:
        scratch = args.keep or Path(folder)
        measured: list[Measured] = []

        def stage(name: str, params: dict) -> Measured:
            result = run_stage(scenario.name, name, params, scratch / "stages")
            measured.append(result)
            return result

        generated = stage("generate", {
            "out": str(scratch / "district"), "students": args.students, "seed": 7,
            "profile": PROFILE,
            "fmt": "csv" if args.students <= CSV_MAX_STUDENTS else "parquet"})
        _end_to_end(scenario, scratch, generated, stage)
    print(table(measured))
    print(goals_table(read_goals(measured)))
    if args.json:
        args.json.write_text(json.dumps([m.as_json() for m in measured], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
