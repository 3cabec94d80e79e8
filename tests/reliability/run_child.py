"""`python -m tests.reliability.run_child DISTRICT AS_OF [--dry-run]`: `run_district` in its own
process, as `passback run` does it, so a test can SIGKILL it mid-sync and every run starts with
the environment (mappings, warehouse, Dagster home, secrets) the parent test set."""

from __future__ import annotations

import sys
from datetime import date


def main(argv: list[str]) -> int:
    """Run one district through Dagster; exit 0 on success, 1 on a failed run."""
    from passback.run import run_district
    from passback.summary import print_summary
    from pipeline.instance import instance

    district, as_of = argv[0], date.fromisoformat(argv[1])
    outcome = run_district(district, as_of=as_of, dry_run="--dry-run" in argv,
                           instance=instance(), log=lambda line: print(line, flush=True))
    print_summary(outcome)
    return 0 if outcome.success else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
