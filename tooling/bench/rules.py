"""Benchmark of the rules stage: `python -m tooling.bench.rules --results 2000000`.

Builds a synthetic Skyward district in a temporary DuckDB file (SQL only, seeded hashes),
builds the candidates with the production SQL, then times the same result eligibility
logic two ways over the same result candidates:
- rules stage: the catalog's vectorised pandera checks over Arrow-backed pandas columns,
  the transforms, the rejection rows with teacher messages, the accepted frame and its
  pandera schema validation (what `assets.transform.rules_run` does);
- plain SQL: the same flags, transform, messages and accepted rows as one DuckDB script.
Optionally (`--compare`) also the same checks over numpy-backed columns and pandera's own
lazy validation (failure cases) on a sample, to show why the stage avoids it.
Prints timings, their ratio, and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pandera.pandas as pa

from assets.transform.candidates import line_item_candidates
from assets.transform.rules_run import LINE_ITEM_CONTEXT
from checks.evaluate import evaluate, rejection_rows, rules_for
from checks.schemas import ACCEPTED_RESULTS
from checks.transforms import apply_transforms
from pipeline.profiles import OTUS_ASSESSMENT_TYPES
from pipeline.rule_settings import RunSettings
from pipeline.sink.refusals import message_sql

STUDENTS_PER_CLASS = 25
ASSIGNMENTS_PER_CLASS = 32
SETTINGS = RunSettings(
    district="bench", time_zone="America/Chicago", profile="skyward",
    effective_date=date(2026, 8, 17), as_of=date(2026, 11, 1), closed_listed=(),
    use_sis_grading_window=True, close_days_after_end=None,
    categories=dict.fromkeys(OTUS_ASSESSMENT_TYPES, "cat") | {"Participation": None},
)


def _generate_sql(classes: int) -> list[str]:
    """Raw tables of a synthetic district; `h(x, n)` is a seeded pseudo-random 0..n-1."""
    n_assign = classes * ASSIGNMENTS_PER_CLASS
    types = ", ".join(f"'{t}'" for t in OTUS_ASSESSMENT_TYPES)
    return [
        "CREATE MACRO h(x, n) AS (hash(x || 'seed7') % n)::INTEGER",
        """INSERT INTO sis.academic_sessions (district, sourced_id, status, title, type,
           start_date, end_date, parent_sourced_id, school_year, grading_window_open) VALUES
           ('bench','t1','active','Fall','term','2026-08-10','2026-12-18','sy','2027',NULL),
           ('bench','gp1','active','Fall GP','gradingPeriod','2026-08-10','2026-12-18','t1',
            '2027',TRUE)""",
        "INSERT INTO sis.categories VALUES ('bench','cat','active',NULL,'Tests')",
        f"""INSERT INTO sis.classes (district, sourced_id, status, title, school_sourced_id,
            term_sourced_ids) SELECT 'bench', 'c' || i, CASE WHEN h(i, 200) = 0
            THEN 'tobedeleted' ELSE 'active' END, 'Class ' || i, 'sch', ['t1']
            FROM range({classes}) t(i)""",
        f"""INSERT INTO otus.users (district, user_id, sis_sourced_id, role, given_name,
            family_name) SELECT 'bench', 'u' || i, CASE WHEN h(i, 100) > 0 THEN 'tch' || i END,
            'teacher', 'Given' || i, 'Family' || i FROM range({classes}) t(i)""",
        f"""INSERT INTO otus.passback_group SELECT 'bench', 'u' || i, TIMESTAMPTZ '2026-08-01'
            FROM range({classes}) t(i) WHERE h(i, 50) > 0""",
        f"""INSERT INTO sis.enrollments (district, sourced_id, status, class_sourced_id,
            user_sourced_id, role) SELECT 'bench', 'e' || c || '-' || s,
            CASE WHEN h(c * 100 + s, 100) = 0 THEN 'tobedeleted' ELSE 'active' END,
            'c' || c, 'stu' || c || '-' || s, 'student'
            FROM range({classes}) a(c), range({STUDENTS_PER_CLASS}) b(s)""",
        f"""INSERT INTO otus.assessments SELECT 'bench', 'a' || i,
            CASE WHEN h(i, 50) = 0 THEN repeat('Long title ', 6) ELSE 'Quiz ' || i END,
            [{types}][1 + h(i, 12)], CASE WHEN h(i, 40) = 0 THEN 'standards' ELSE 'points'
            END, CASE WHEN h(i, 100) = 0 THEN NULL WHEN h(i, 30) = 0 THEN 10.5 ELSE 20 END,
            h(i, 33) > 0, 'u0', TIMESTAMPTZ '2026-08-20',
            CASE WHEN h(i, 100) = 1 THEN TIMESTAMPTZ '2026-10-01' END
            FROM range({n_assign}) t(i)""",
        f"""INSERT INTO otus.class_assignments SELECT 'bench', 'ca' || i, 'a' || i,
            'c' || (i // {ASSIGNMENTS_PER_CLASS}), 'u' || (i // {ASSIGNMENTS_PER_CLASS}),
            TIMESTAMPTZ '2026-08-12 14:00+00' + to_days(h(i, 120)), NULL,
            CASE WHEN h(i, 5) > 0 THEN TIMESTAMPTZ '2026-08-19 14:00+00' + to_days(h(i, 120))
            END, TIMESTAMPTZ '2026-08-20', NULL FROM range({n_assign}) t(i)""",
        f"""INSERT INTO otus.scores SELECT 'bench', 'ca' || i,
            'stu' || (i // {ASSIGNMENTS_PER_CLASS}) || '-' || s,
            ['graded','graded','graded','graded','graded','graded','submitted',
             'not_submitted','in_progress','graded'][1 + h(i * 31 + s, 10)],
            CASE WHEN h(i * 7 + s, 200) = 0 THEN -1 ELSE h(i * 3 + s, 21) END,
            h(i * 11 + s, 50) = 0, FALSE, FALSE, TIMESTAMPTZ '2026-09-20 15:00+00', NULL,
            TIMESTAMPTZ '2026-09-20 15:00+00'
            FROM range({n_assign}) a(i), range({STUDENTS_PER_CLASS}) b(s)""",
    ]


def _timed(label: str, fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<48} {seconds:8.2f} s")
    return seconds, value


def _rules_stage(conn: duckdb.DuckDBPyConnection, context: pd.DataFrame) -> tuple[int, int]:
    """Result rules as the asset runs them, from the result candidates table."""
    frame = conn.sql("SELECT * FROM rc").to_arrow_table().to_pandas(types_mapper=pd.ArrowDtype)
    frame.attrs.update(SETTINGS.frame_attrs())
    frame = apply_transforms(frame, "result")
    verdicts = evaluate(frame, "result", SETTINGS.profile)
    rejections = rejection_rows(verdicts, ["assignment_id", "student_sourced_id"], context)
    accepted = verdicts.accepted()[["assignment_id", "student_sourced_id", "score"]]
    ACCEPTED_RESULTS.validate(accepted)
    return len(accepted), len(rejections)


def _plain_sql(conn: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """The same eligibility logic written directly in DuckDB SQL."""
    conn.execute(f"""
        CREATE OR REPLACE TEMP TABLE flagged AS
        SELECT rc.*, li.title, li.class_title,
          ('{SETTINGS.profile}' = 'skyward' AND due_passed
           AND status IN ('not_submitted', 'in_progress')) AS mz,
          NOT line_item_accepted AS f_line_item_rejected, excluded AS f_excluded_score,
          NOT enrolled AS f_student_not_enrolled,
          status <> 'graded' AND NOT coalesce(mz, FALSE) AS f_not_graded,
          status = 'graded' AND (points_earned IS NULL OR isnan(points_earned)
                                 OR points_earned < 0) AS f_invalid_score
        FROM rc JOIN li_context li USING (assignment_id)""")
    accepted = conn.sql("""CREATE OR REPLACE TEMP TABLE accepted AS SELECT assignment_id,
        student_sourced_id, CASE WHEN mz THEN 0 ELSE points_earned END AS score FROM flagged
        WHERE NOT (f_line_item_rejected OR f_excluded_score OR f_student_not_enrolled
                   OR f_not_graded OR f_invalid_score)""")
    del accepted
    parts = []
    for rule in rules_for("result", SETTINGS.profile):
        message = message_sql(rule.message_for(SETTINGS.profile))
        parts.append(f"SELECT assignment_id, student_sourced_id, '{rule.id}' AS rule, "
                     f"{message} AS message FROM flagged WHERE f_{rule.id}")
    conn.execute("CREATE OR REPLACE TEMP TABLE rejections AS " + " UNION ALL ".join(parts))
    counts = conn.sql("SELECT (SELECT count(*) FROM accepted), "
                      "(SELECT count(*) FROM rejections)").fetchall()[0]
    return int(counts[0]), int(counts[1])


def _pandera_lazy(conn: duckdb.DuckDBPyConnection, rows: int) -> None:
    """pandera's own lazy validation with failure cases, on a sample (for comparison)."""
    frame = conn.sql(f"SELECT * FROM rc LIMIT {rows}").df()
    frame.attrs.update(SETTINGS.frame_attrs())
    frame = apply_transforms(frame, "result")
    schema = pa.DataFrameSchema(checks=[r.check for r in rules_for("result", "skyward")])
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        print(f"  pandera failure cases: {len(errors.failure_cases)}")


def main(argv: list[str] | None = None) -> None:
    """Generate, build candidates, time both, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=2_000_000)
    parser.add_argument("--duckdb-memory", default="512MB",
                        help="DuckDB memory_limit for the run (default 512MB)")
    parser.add_argument("--full", action="store_true",
                        help="instead, time the whole partition run of the asset (candidates, "
                             "rules, one-transaction write) and its peak RSS")
    parser.add_argument("--compare", action="store_true",
                        help="also time numpy-backed columns and pandera lazy validation")
    args = parser.parse_args(argv)
    classes = max(1, args.results // (STUDENTS_PER_CLASS * ASSIGNMENTS_PER_CLASS))
    with tempfile.TemporaryDirectory() as folder:
        conn = duckdb.connect(str(Path(folder) / "bench.duckdb"))
        from pipeline.warehouse import ensure_schema

        ensure_schema(conn)
        # DuckDB would take up to 80% of RAM for its buffer pool; the pipeline's budget is
        # 1.5 GiB for the whole process, so give DuckDB a share of it (both sides alike).
        conn.execute(f"SET memory_limit = '{args.duckdb_memory}'")
        _timed("generate raw tables", lambda: [conn.execute(s) for s in _generate_sql(classes)])
        if args.full:
            _full_partition(conn)
            return
        _, line_items = _timed("line-item candidates + rules (SQL + checks)",
                               lambda: _line_items(conn))
        _timed("result candidates (production SQL)", lambda: _result_candidates(conn, line_items))
        n = conn.sql("SELECT count(*) FROM rc").fetchall()[0][0]
        print(f"result candidates: {n:,}")
        context = line_items.set_index("assignment_id")[["title", "class_title"]]
        conn.register("li_context", line_items[["assignment_id", "title", "class_title"]])
        t_sql, c_sql = _timed("plain SQL eligibility (DuckDB)", lambda: _plain_sql(conn))
        t_rules, c_rules = _timed("rules stage (pandera checks, Arrow pandas)",
                                  lambda: _rules_stage(conn, context))
        print(f"accepted/rejection rows  SQL {c_sql}  rules {c_rules}")
        if args.compare:
            _timed("pandera lazy validation, 200k-row sample", lambda: _pandera_lazy(conn, 200_000))
        conn.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ratio rules/SQL: {t_rules / t_sql:.2f}x   peak RSS: {peak:,.0f} MiB")


def _full_partition(conn: duckdb.DuckDBPyConnection) -> None:
    from assets.transform.rules_run import compute_partition, write_partition

    _, run = _timed("partition run: candidates + rules", lambda: compute_partition(
        conn, SETTINGS, "gp1"))
    _timed("partition run: one-transaction write", lambda: write_partition(conn, run, "bench"))
    print(f"results in scope: {run.results.candidates:,}, rejection rows: "
          f"{int(run.rejection_counts['rows'].sum()):,}")
    conn.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:,.0f} MiB")


def _line_items(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = apply_transforms(line_item_candidates(conn, SETTINGS), "line_item")
    frame["line_item_accepted"] = ~evaluate(frame, "line_item", SETTINGS.profile).rejected
    return frame[LINE_ITEM_CONTEXT]


def _result_candidates(conn: duckdb.DuckDBPyConnection, line_items: pd.DataFrame) -> None:
    from assets.transform.candidates import RESULT_SQL

    scope = line_items[["assignment_id", "class_sourced_id", "line_item_accepted", "due_passed"]]
    conn.register("line_item_scope", scope.assign(line_item_accepted=scope[
        "line_item_accepted"].astype(bool)))
    conn.execute(f"CREATE TEMP TABLE rc AS {RESULT_SQL}",
                 {"district": SETTINGS.district, "zone": SETTINGS.time_zone})
    conn.unregister("line_item_scope")


if __name__ == "__main__":
    main()
