"""One rules run for one district and grading period, without Dagster: candidates, the
catalog's verdicts, and the partition's rows replaced in one transaction.

Where `no_grading_period` rejections live: a line item whose due date falls in no grading
period belongs to no partition, so it (and its scores' `line_item_rejected` rows) is stored
with `grading_period_sourced_id` NULL, as district-level rows. Every partition run of the
district recomputes them from the same district-wide candidates and replaces them in its
transaction, so they always reflect the district's latest run, and each grading period's
report lists them in a separate section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from assets.transform.candidates import (
    ORPHAN_SCORES_SQL,
    candidate_batches,
    duplicate_candidates,
    line_item_candidates,
    stage_result_candidates,
)
from assets.transform.sourced_ids import digest_sql, name_sql, uuid_from_digest_sql
from checks.asset_checks import Preconditions, preconditions
from checks.catalog import Severity
from checks.evaluate import Verdicts, evaluate, rejection_rows
from checks.schemas import ACCEPTED_LINE_ITEMS, ACCEPTED_RESULTS
from checks.transforms import apply_transforms
from pipeline.rule_settings import RunSettings
from pipeline.sink.refusals import refresh_sis_refusals
from pipeline.warehouse import transaction

# Result candidates are staged in DuckDB and judged this many at a time: a 50,000-student
# grading period has about 3 million, whose frames alone took several GiB at once.
RESULT_BATCH = 250_000
RESULT_CANDIDATES = "_passback_result_candidates"  # temporary tables of the run's connection
ACCEPTED_RESULTS_TABLE = "run_results"
REJECTIONS_TABLE = "run_rejections"  # a bad week rejects millions of scores, each a message
RESULT_KEY = ["assignment_id", "student_sourced_id"]
ACCEPTED_RESULT_COLUMNS = ["assignment_id", "student_sourced_id", "score", "missing_is_zero",
                           "graded_date", "updated_at"]

# Line-item columns the rejections and results borrow (joined in SQL at write time).
LINE_ITEM_CONTEXT = ["assignment_id", "assessment_id", "class_sourced_id", "class_title",
                     "school_sourced_id", "teacher_user_id", "teacher_name", "title",
                     "grading_period_sourced_id", "sourced_id", "due_date", "line_item_accepted",
                     "due_passed"]


@dataclass
class ResultTally:
    """The result rules' verdicts over every batch, as counts; the accepted results
    themselves wait in the connection's temporary table `run_results` for the write."""

    severities: dict[str, Severity] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    candidates: int = 0
    accepted: int = 0

    def add(self, verdicts: Verdicts) -> None:
        """Count one batch."""
        self.severities.update(verdicts.severities)
        for rule_id, failing in verdicts.failures.items():
            self.failures[rule_id] = self.failures.get(rule_id, 0) + int(failing.sum())
        self.candidates += len(verdicts.frame)
        self.accepted += int((~verdicts.rejected).sum())


@dataclass
class PartitionRun:
    """Everything one run computed for its partition, ready to write (the accepted results
    and the rejection rows in the connection's temporary tables `run_results` and
    `run_rejections`: write with the same connection)."""

    settings: RunSettings
    grading_period_sourced_id: str
    line_items: Verdicts
    results: ResultTally
    scope: pd.DataFrame  # the line items of this partition plus district-level ones
    rejection_counts: pd.DataFrame  # rule, severity, rows (the rows: `run_rejections`)
    checks: Preconditions
    orphan_scores: int = 0
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def accepted_line_items(self) -> pd.DataFrame:
        """Accepted line items of this grading period (district-level ones have none)."""
        accepted = self.line_items.accepted()
        return accepted[accepted["grading_period_sourced_id"] == self.grading_period_sourced_id]

    def stats(self) -> pd.DataFrame:
        """Failures per rule among this run's records, for the trend check and the report."""
        rows = [{"entity": "line_item", "rule": rule_id,
                 "severity": self.line_items.severities[rule_id],
                 "candidates": len(self.line_items.frame), "failures": int(failing.sum())}
                for rule_id, failing in self.line_items.failures.items()]
        rows += [{"entity": "result", "rule": rule_id,
                  "severity": self.results.severities[rule_id],
                  "candidates": self.results.candidates, "failures": failures}
                 for rule_id, failures in self.results.failures.items()]
        return pd.DataFrame(rows, columns=["entity", "rule", "severity", "candidates",
                                           "failures"])


def _scoped(verdicts: Verdicts, mask: np.ndarray) -> Verdicts:
    return Verdicts(verdicts.entity, verdicts.profile, verdicts.frame[mask],
                    {k: v[mask] for k, v in verdicts.failures.items()}, verdicts.severities)


def compute_partition(
    conn: duckdb.DuckDBPyConnection, settings: RunSettings, grading_period_sourced_id: str
) -> PartitionRun:
    """Candidates of the whole district, verdicts, and this partition's share of them."""
    line_items = apply_transforms(line_item_candidates(conn, settings), "line_item")
    li_verdicts = evaluate(line_items, "line_item", settings.profile)
    line_items["line_item_accepted"] = ~li_verdicts.rejected
    li_verdicts.frame = line_items
    period = line_items["grading_period_sourced_id"]
    in_scope = ((period == grading_period_sourced_id).fillna(False) | period.isna()).to_numpy(
        dtype=bool)
    li_scoped = _scoped(li_verdicts, in_scope)
    scope = li_scoped.frame[LINE_ITEM_CONTEXT]
    scope_table = _arrow(
        scope[["assignment_id", "class_sourced_id", "line_item_accepted", "due_passed"]])
    rows = stage_result_candidates(conn, settings, scope_table, RESULT_CANDIDATES)
    context = scope.set_index("assignment_id")[["title", "class_title"]]
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {REJECTIONS_TABLE} (entity VARCHAR, "
                 "assignment_id VARCHAR, student_sourced_id VARCHAR, rule VARCHAR, "
                 "severity VARCHAR, message VARCHAR)")
    _keep_rejections(conn, rejection_rows(li_scoped, ["assignment_id"]), "line_item")
    tally = _judge_results(conn, settings, rows, context)
    counts = conn.sql(f"SELECT rule, severity, count(*) AS rows FROM {REJECTIONS_TABLE} "
                      "GROUP BY ALL ORDER BY rule, severity").to_arrow_table().to_pandas()
    orphans = conn.execute(ORPHAN_SCORES_SQL, {"district": settings.district}).fetchall()[0]
    # Duplicate scores, found in SQL over every candidate: a batch sees only its own.
    duplicates = duplicate_candidates(conn, RESULT_CANDIDATES, RESULT_KEY)
    conn.execute(f"DROP TABLE IF EXISTS {RESULT_CANDIDATES}")
    return PartitionRun(
        settings=settings, grading_period_sourced_id=grading_period_sourced_id,
        line_items=li_scoped, results=tally, scope=scope, rejection_counts=counts,
        checks=preconditions(conn, settings, line_items, duplicates),
        orphan_scores=int(orphans[0]) if orphans else 0,
    )


def _keep_rejections(conn: duckdb.DuckDBPyConnection, rows: pd.DataFrame, entity: str) -> None:
    """Append rejection rows to the run's temporary table (a line item has no student)."""
    if rows.empty:
        return
    student = "student_sourced_id" if "student_sourced_id" in rows else "NULL"
    conn.register("_passback_batch", _arrow(rows))
    try:
        conn.execute(f"INSERT INTO {REJECTIONS_TABLE} SELECT ?, assignment_id, {student}, "
                     "rule, severity, message FROM _passback_batch", [entity])
    finally:
        conn.unregister("_passback_batch")


def _judge_results(conn: duckdb.DuckDBPyConnection, settings: RunSettings, rows: int,
                   context: pd.DataFrame) -> ResultTally:
    """The result rules over the staged candidates, one batch at a time: counts, and the
    rejection rows and accepted results appended to the temporary tables `run_rejections`
    and `run_results` (each batch's accepted results checked against the accepted-results
    schema before they are kept)."""
    tally = ResultTally()
    conn.execute(f"DROP TABLE IF EXISTS {ACCEPTED_RESULTS_TABLE}")
    for batch in candidate_batches(conn, settings, RESULT_CANDIDATES, rows, RESULT_BATCH):
        verdicts = evaluate(apply_transforms(batch, "result"), "result", settings.profile)
        tally.add(verdicts)
        _keep_rejections(conn, rejection_rows(verdicts, RESULT_KEY, context), "result")
        accepted = verdicts.accepted()[ACCEPTED_RESULT_COLUMNS]
        ACCEPTED_RESULTS.validate(accepted)
        _append(conn, ACCEPTED_RESULTS_TABLE, _arrow(accepted))
    if not tally.candidates:  # no candidates: the write still reads an (empty) table
        empty = evaluate(apply_transforms(_empty_candidates(conn, settings), "result"),
                         "result", settings.profile)
        tally.add(empty)
        _append(conn, ACCEPTED_RESULTS_TABLE,
                _arrow(empty.accepted()[ACCEPTED_RESULT_COLUMNS]))
    return tally


def _empty_candidates(conn: duckdb.DuckDBPyConnection, settings: RunSettings) -> pd.DataFrame:
    frame = conn.sql(f"SELECT * FROM {RESULT_CANDIDATES} LIMIT 0").to_arrow_table().to_pandas(
        types_mapper=pd.ArrowDtype)
    frame.attrs.update(settings.frame_attrs())
    return frame


def _append(conn: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
    conn.register("_passback_batch", rows)
    try:
        exists = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND "
                              "table_name = ?", [table]).fetchall()[0][0]
        conn.execute(f"INSERT INTO {table} SELECT * FROM _passback_batch" if exists else
                     f"CREATE TEMP TABLE {table} AS SELECT * FROM _passback_batch")
    finally:
        conn.unregister("_passback_batch")


def _arrow(frame: pd.DataFrame) -> pa.Table:
    frame = frame.copy(deep=False)
    frame.attrs = {}  # run facts (dates) are not table metadata
    return pa.Table.from_pandas(frame, preserve_index=False)


def _register_run(conn: duckdb.DuckDBPyConnection, run: PartitionRun) -> None:
    line_items = run.accepted_line_items()
    ACCEPTED_LINE_ITEMS.validate(line_items)
    conn.register("run_line_items", _arrow(line_items))
    conn.register("run_scope", _arrow(run.scope))
    conn.register("run_stats", _arrow(run.stats()))


_RESULT_ID = digest_sql(name_sql("$district", "result", "r.assignment_id",
                                 "r.student_sourced_id"))

WRITE_SQL = [
    "DELETE FROM passback.line_items WHERE district = $district "
    "AND grading_period_sourced_id = $gp",
    """INSERT INTO passback.line_items BY NAME
       SELECT $district AS district, grading_period_sourced_id, sourced_id, assignment_id,
              assessment_id, class_sourced_id, school_sourced_id, teacher_user_id, title,
              'Otus ' || assessment_type || ' assessment' AS description, assign_date,
              due_date, category_sourced_id, 0.0 AS result_value_min, result_value_max,
              'active' AS status, updated_at, $as_of AS as_of, $now AS computed_at
       FROM run_line_items""",
    "DELETE FROM passback.results WHERE district = $district "
    "AND grading_period_sourced_id = $gp",
    f"""INSERT INTO passback.results BY NAME
       SELECT $district AS district, s.grading_period_sourced_id,
              {uuid_from_digest_sql("h")} AS sourced_id, s.sourced_id AS line_item_sourced_id,
              r.assignment_id, s.class_sourced_id, r.student_sourced_id, r.score,
              'fully graded' AS score_status,
              coalesce(r.graded_date, CASE WHEN r.missing_is_zero THEN s.due_date END,
                       (r.updated_at AT TIME ZONE $zone)::DATE) AS score_date,
              r.missing_is_zero, 'active' AS status, r.updated_at, $as_of AS as_of,
              $now AS computed_at
       FROM (SELECT *, {_RESULT_ID} AS h FROM run_results r) r
       JOIN run_scope s ON s.assignment_id = r.assignment_id
       WHERE s.grading_period_sourced_id = $gp""",
    "DELETE FROM passback.rejections WHERE district = $district "
    "AND (grading_period_sourced_id = $gp OR grading_period_sourced_id IS NULL)",
    """INSERT INTO passback.rejections BY NAME
       SELECT $district AS district, s.grading_period_sourced_id, j.entity, j.assignment_id,
              s.assessment_id, s.class_sourced_id, s.class_title, j.student_sourced_id,
              s.teacher_user_id, s.teacher_name, s.title, j.rule, j.severity, j.message,
              $as_of AS as_of, $now AS detected_at
       FROM run_rejections j JOIN run_scope s ON s.assignment_id = j.assignment_id""",
    """INSERT INTO passback.rule_stats BY NAME
       SELECT $district AS district, $gp AS grading_period_sourced_id, $run_id AS run_id,
              $now AS computed_at, $as_of AS as_of, entity, rule, severity, candidates,
              failures
       FROM run_stats""",
]

DUPLICATES_SQL = """
SELECT (SELECT count(*) - count(DISTINCT sourced_id) FROM passback.line_items
        WHERE district = $district AND grading_period_sourced_id = $gp)
     + (SELECT count(*) - count(DISTINCT sourced_id) FROM passback.results
        WHERE district = $district AND grading_period_sourced_id = $gp)
"""


class _DuplicateSourcedIds(Exception):
    """Raised inside the write transaction to roll it back: the sink must see one row per id."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} duplicate sourcedIds")
        self.count = count


def write_partition(conn: duckdb.DuckDBPyConnection, run: PartitionRun, run_id: str) -> int:
    """Replace the partition's rows (and the district-level rejections, and the SIS-derived
    ones from the ledger) in one transaction.

    Returns the number of duplicate sourcedIds found after the insert; when it is not 0 the
    transaction is rolled back and nothing changes.
    """
    params = {"district": run.settings.district, "gp": run.grading_period_sourced_id,
              "as_of": run.settings.as_of, "now": run.computed_at, "run_id": run_id,
              "zone": run.settings.time_zone}
    _register_run(conn, run)
    try:
        with transaction(conn):
            for statement in WRITE_SQL:
                names = {k: v for k, v in params.items() if f"${k}" in statement}
                conn.execute(statement, names)
            # The SIS's refusals, from the ledger: the DELETE above took them, and the report
            # that follows this run lists them (the sink rebuilds them after it sends).
            refresh_sis_refusals(conn, params["district"], params["gp"])
            duplicates = conn.execute(DUPLICATES_SQL, {"district": params["district"],
                                                       "gp": params["gp"]}).fetchall()[0]
            count = int(duplicates[0]) if duplicates else 0
            if count:
                raise _DuplicateSourcedIds(count)
        return 0
    except _DuplicateSourcedIds as rolled_back:
        return rolled_back.count
    finally:
        for name in ("run_line_items", "run_scope", "run_stats"):
            conn.unregister(name)
        for table in (ACCEPTED_RESULTS_TABLE, REJECTIONS_TABLE):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
