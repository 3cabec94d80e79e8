"""`python -m tooling.bench.worker STAGE PARAMS.json OUT.json`: one stage in a fresh process.

The harness starts one of these per stage so that each stage's peak RSS is measured alone.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tooling.bench import extract, stages

STAGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    **stages.STAGES, "extract": extract.extract_client, "extract_dlt": extract.extract_dlt}


def main(argv: list[str]) -> int:
    """Run the named stage with its parameters and write its figures as JSON."""
    stage, params_file, out_file = argv
    params = json.loads(Path(params_file).read_text(encoding="utf-8"))
    figures = STAGES[stage](params)
    Path(out_file).write_text(json.dumps(figures, default=str, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
