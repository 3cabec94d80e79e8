"""`python -m tooling.bench`: each stage at district scale, beside what a user would pick instead.

Stages (generate, extract, rules, sink, end to end) run one per subprocess, so each one's peak
RSS is its own (`os.wait4` returns the child's `ru_maxrss`). Sandboxes run as processes of the
harness, never of the stage they serve, so a stage's memory is the client's alone.

    make bench            # --mode quick: 1,000 students, a few minutes
    make bench-district   # --mode district: 1,000 and 50,000 students
    python -m tooling.bench --mode smoke --json /tmp/results.json   # ~100 students, the test

Figures: a table on stdout, JSON at `.passback/bench/results.json` (or `--json PATH`); the
reading of them against the goals is in docs/benchmarks.md.
"""
