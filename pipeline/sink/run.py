"""The sink's entry points for the asset and the CLI: plan one partition, or plan and send it.

    plan_sync(config, grading_period, connect=...) -> SyncPlan
    run_sync(config, grading_period, connect=..., dry_run=...) -> SyncReport

DuckDB is opened only in short spans: once to plan into `passback.sync_plan` (in SQL, see
pipeline/sink/plan.py), once per batch of the stored plan the sender reads, by the ledger
writer for each small batch while sending, and once at the end for SIS refusals. No
connection is held while waiting on the SIS. Only one sync per district sends at a time in
this host (a file lock, released by the OS if the process dies); across runs Dagster's
`passback/sis_writer` run-tag limit does the same (see `sis_writer_tags`).

History (pipeline/sink/history.py): under the lock, a sync first ingests the journals a dead
run left and trims what is older than the district's retention; every plan is kept (less its
`unchanged` rows) with a `passback.sync_runs` row; each request is journaled as it is sent.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipeline.config import DistrictConfig, warehouse_path
from pipeline.oneroster import OneRosterResource, OneRosterWriter
from pipeline.sink.bulk import bulk_setup
from pipeline.sink.drift import record_drift
from pipeline.sink.execute import Execution, GradebookWriter, Log
from pipeline.sink.history import (
    Journal,
    finish_run,
    first_seq,
    journal_folder,
    record_run,
    settle_journal,
    start_history,
)
from pipeline.sink.ledger import LedgerWriter, patient
from pipeline.sink.plan import WRITES, StoredPlan, SyncPlan
from pipeline.sink.planner import plan_partition, write_plan
from pipeline.sink.progress import SyncCounters, steady_interval
from pipeline.sink.refusals import record_sis_refusals
from pipeline.sink.safeguards import guard_mass_change
from pipeline.warehouse import transaction

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


def default_connect() -> AbstractContextManager[duckdb.DuckDBPyConnection]:
    """A short-lived connection to the configured warehouse."""
    from pipeline.warehouse import connect

    return connect()


# Where an object of a plan can end; each object ends in exactly one. `refused`: refused in
# this run; `still_refused`: refused before with the same payload, so not sent again;
# `blocked`: a result whose line item the SIS refused or does not hold; `kept`: the SIS's own
# edit left in place (`sis_edits: keep`); `not_sent`: a dry run's writes.
OUTCOMES = ("sent", "deleted", "unchanged", "kept", "refused", "still_refused", "failed", "blocked",
            "invalid", "stopped", "frozen", "not_sent")


@dataclass
class SyncReport:
    """What one sync planned and did: counts, cost, rate and a few sample payloads."""

    district: str
    grading_period_sourced_id: str
    dry_run: bool
    closed: bool
    planned: dict[str, int]
    counters: SyncCounters = field(default_factory=SyncCounters)
    requests: int = 0
    token_renewals: int = 0
    seconds: float = 0.0
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # How creates were sent: "bulk" (1.2 bulk POSTs) or "put", and why (pipeline/sink/bulk.py).
    write_mode: str = "put"
    write_mode_reason: str = ""

    @property
    def rate(self) -> float:
        """Requests per second while sending."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def objects(self) -> int:
        """Every object of the plan, whatever its action."""
        return sum(self.planned.values())

    def outcomes(self) -> dict[str, int]:
        """Where each object of the plan ended, one count per outcome (see `OUTCOMES`).

        The identity `sum(outcomes()) == objects` holds for every finished sync: writes end
        sent, deleted, refused, failed or blocked (a dry run's are `not_sent`), and every other
        action is its own outcome."""
        c, p = self.counters, self.planned
        return {
            "sent": c.sent, "deleted": c.deleted, "unchanged": p["unchanged"], "kept": p["kept"],
            "refused": c.refused, "still_refused": p["refused"], "failed": c.failed,
            "blocked": c.blocked + p["blocked"], "invalid": p["invalid"],
            "stopped": p["stopped"], "frozen": p["frozen"],
            "not_sent": sum(p[a] for a in WRITES) if self.dry_run else 0,
        }

    def metadata(self) -> dict[str, Any]:
        """Flat values for the asset's metadata / the CLI (no student names anywhere).

        `objects` equals the sum of the `OUTCOMES` values (`accounted_for`)."""
        c = self.counters
        outcomes = self.outcomes()
        return {
            "dry_run": self.dry_run, "grading_period_closed": self.closed,
            "planned": sum(self.planned[a] for a in WRITES),
            **{f"planned_{name}": count for name, count in self.planned.items()},
            "objects": self.objects, **outcomes, "accounted_for": sum(outcomes.values()),
            "requests": self.requests, "write_requests": c.writes, "retries": c.retries,
            "token_renewals": self.token_renewals,
            "rate_per_second": round(self.rate, 1), "duration_seconds": round(self.seconds, 3),
            "write_mode": self.write_mode, "write_mode_reason": self.write_mode_reason,
            "sample_payloads": self.samples,
        }


def plan_sync(config: DistrictConfig, grading_period: str, *, connect: Connect = default_connect,
              as_of: date | None = None) -> SyncPlan:
    """The plan of one district and grading period; reads the warehouse and writes nothing
    (its rows, all but `unchanged`, come back as `actions`: for people and tests; a run
    stores its plan with `store_plan`)."""
    with patient(connect)() as conn:
        return plan_partition(conn, config, grading_period, as_of=as_of or date.today())


def run_sync(config: DistrictConfig, grading_period: str, *,
             client: GradebookWriter | None = None, connect: Connect = default_connect,
             dry_run: bool | None = None, run_id: str | None = None, as_of: date | None = None,
             log: Log = print, progress_interval: float | None = None,
             lock_dir: Path | None = None,
             requests: Callable[[], int] | None = None,
             journal_dir: Path | None = None, allow_mass_change: bool = False) -> SyncReport:
    """Plan, record the plan, and (unless a dry run or a closed period) send it.

    `dry_run` None follows the district's `passback.dry_run`. `client` writes to the SIS: by
    default the default `OneRosterResource`'s writer for the district (the asset passes its
    resource's). `requests` reads the client's request counter (defaults to
    `client.stats.requests`). `journal_dir` holds the write-ahead journals (default: `journal/`
    beside the warehouse file). A plan that removes too much stops before sending with a
    MassChangeError unless `allow_mass_change` (pipeline/sink/safeguards.py).
    """
    dry_run = config.passback.dry_run if dry_run is None else dry_run
    connect = patient(connect)
    run_id = run_id or f"sync-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}"
    retention = config.passback.history_retention_days
    if dry_run:
        start_history(connect, config.district, retention, None, log)
        plan = store_plan(connect, config, grading_period, run_id, dry_run=True, as_of=as_of)
        record_drift(connect, plan, run_id)
        finish_run(connect, config.district, grading_period, run_id, 0, 0)
        log(f"dry run: {_summary(plan)}; nothing was sent")
        return SyncReport(config.district, grading_period, True, plan.closed, plan.counts(),
                          samples=plan.samples())
    with ExitStack() as stack:
        if client is None:
            client = stack.enter_context(OneRosterResource().writer(config))
        stack.enter_context(district_lock(config.district, lock_dir, log))
        journal_dir = journal_dir or journal_folder(connect)
        start_history(connect, config.district, retention, journal_dir, log)
        # Planned under the lock: a sync that finished while we waited changed the ledger.
        plan = store_plan(connect, config, grading_period, run_id, dry_run=False, as_of=as_of)
        record_drift(connect, plan, run_id)
        log(f"plan: {_summary(plan)}")
        guard_mass_change(connect, plan, config, run_id=run_id, allowed=allow_mass_change,
                          log=log)
        upgrade_ledger_hashes(connect, plan, log)
        report = SyncReport(config.district, grading_period, False, plan.closed, plan.counts(),
                            samples=plan.samples())
        if not plan.closed and plan.planned_requests:
            report.counters, mode = _send(plan, client, connect, run_id, config, log,
                                          progress_interval or steady_interval(),
                                          requests or _request_counter(client), journal_dir)
            report.write_mode, report.write_mode_reason = mode
            report.requests = report.counters.requests
            report.seconds = report.counters.seconds
            report.token_renewals = getattr(getattr(client, "stats", None), "token_renewals", 0)
    finish_run(connect, config.district, grading_period, run_id, report.requests,
               report.counters.writes)
    # Rebuilt every run: this run's refusals (and their blocked results) join the report.
    record_sis_refusals(connect, plan.district, plan.grading_period_sourced_id)
    return report


def _send(plan: SyncPlan, client: GradebookWriter, connect: Connect, run_id: str,
          config: DistrictConfig, log: Log, interval: float,
          requests: Callable[[], int], journal_dir: Path) -> tuple[SyncCounters, tuple[str, str]]:
    start = requests()
    bulk = bulk_setup(connect, config, plan.grading_period_sourced_id, log)
    journal = Journal(journal_dir, plan.district, run_id,
                      first_seq(connect, plan.district, run_id))
    ledger = LedgerWriter(connect)
    try:
        execution = Execution(plan, client, ledger, run_id, _workers(config, client),
                              lambda: requests() - start, log, interval,
                              journal=journal, **bulk)
        counters = execution.run()
    finally:
        try:
            ledger.close()
        except BaseException:
            journal.close()  # kept: the next sync of the district ingests it
            raise
        # Every outcome is committed with its event: the journal is no longer needed.
        settle_journal(connect, journal, ledger.requests_written, plan.district, log)
    counters.requests = requests() - start
    log(f"write mode: {execution.write_mode} ({execution.write_mode_reason})")
    return counters, (execution.write_mode, execution.write_mode_reason)


def _workers(config: DistrictConfig, client: GradebookWriter) -> int:
    """Worker threads: the OneRosterWriter holds an in-flight slot only on the wire, so two
    spare workers prepare the next requests while the slots are busy (the budget still caps
    what is in flight); any other client (a test double) gets one worker per slot."""
    slots = config.sis.budget.max_concurrency
    return slots + 2 if isinstance(client, OneRosterWriter) else slots


def _request_counter(client: GradebookWriter) -> Callable[[], int]:
    stats = getattr(client, "stats", None)
    if stats is None:
        raise ValueError("pass `requests=` for a client without `stats`")
    return lambda: stats.requests


def _summary(plan: SyncPlan) -> str:
    counts = {name: n for name, n in plan.counts().items() if n}
    closed = " (grading period closed: nothing is written)" if plan.closed else ""
    return f"{plan.district} / {plan.grading_period_sourced_id}: {counts or 'nothing'}{closed}"


@contextmanager
def district_lock(district: str, lock_dir: Path | None, log: Log) -> Iterator[None]:
    """Hold this host's lock on a district's SIS; wait (and say so) while another sync holds it."""
    folder = lock_dir or warehouse_path().parent / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"sis_{district}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another sync is writing {district}'s SIS; waiting for it to finish")
            started = time.monotonic()
            fcntl.flock(handle, fcntl.LOCK_EX)
            log(f"waited {time.monotonic() - started:.1f}s for {district}'s SIS")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def store_plan(connect: Connect, config: DistrictConfig, grading_period: str, run_id: str, *,
               dry_run: bool, as_of: date | None = None) -> SyncPlan:
    """Plan one partition straight into `passback.sync_plan` and keep its `passback.sync_runs`
    row (the count of every action), in one transaction; the plan reads its rows from there.

    Earlier runs' plans stay (until `history_retention_days`): who was sent what, and why, is
    history. `unchanged` rows are only counted: a nightly run re-plans millions of them, and
    what they hold is in the ledger and in the plan that last sent them. Nothing of a row
    becomes a Python object here: DuckDB writes the rows (pipeline/sink/plan_sql.py).
    """
    now = datetime.now(UTC)
    with connect() as conn, transaction(conn):
        # A run id plans a partition once; a retry of the same run replaces its rows.
        conn.execute("DELETE FROM passback.sync_plan WHERE district = ? AND "
                     "grading_period_sourced_id = ? AND run_id = ?",
                     [config.district, grading_period, run_id])
        plan = write_plan(conn, config, grading_period, as_of=as_of or date.today(),
                          target="passback.sync_plan", run_id=run_id, dry_run=dry_run,
                          planned_at=now)
        record_run(conn, district=plan.district, grading_period=grading_period,
                   run_id=run_id, dry_run=dry_run, closed=plan.closed, planned_at=now,
                   counts=plan.counts(), planned_requests=plan.planned_requests)
    plan.stored = StoredPlan(connect, run_id)
    return plan


# Ledger rows whose older-release hash the plan matched to today's payload get today's hash,
# unless the plan writes them (the write records the new hash) or freezes them.
_REHASH_SQL = """
UPDATE passback.sync_ledger l SET payload_hash = r.new_hash
FROM ledger_rehash r
WHERE l.district = $district AND l.entity = r.entity AND l.sourced_id = r.sourced_id
  AND l.payload_hash = r.old_hash
  AND NOT EXISTS (SELECT 1 FROM passback.sync_plan p
                  WHERE p.district = $district AND p.grading_period_sourced_id = $gp
                    AND p.run_id = $run_id AND p.entity = r.entity
                    AND p.sourced_id = r.sourced_id AND p.action NOT IN ('kept', 'refused'))
"""


def upgrade_ledger_hashes(connect: Connect, plan: SyncPlan, log: Log = print) -> int:
    """Rewrite the ledger's hashes from older releases (`v2:`, or from before hashes left the
    base URL out) of payloads the SIS already holds or refused to today's, so the next plan
    needs no Python for them; returns how many.

    Only rows whose old hash is this payload's (`SyncPlan.legacy`, found once by the plan):
    a payload that changed is planned as a write instead, and its row gets the new hash when
    it is sent."""
    if plan.legacy is None or not plan.legacy.num_rows or plan.stored is None:
        return 0
    with connect() as conn, transaction(conn):
        conn.register("ledger_rehash", plan.legacy)
        row = conn.execute(_REHASH_SQL, {"district": plan.district,
                                         "gp": plan.grading_period_sourced_id,
                                         "run_id": plan.stored.run_id}).fetchone()
        conn.unregister("ledger_rehash")
    rewritten = int(row[0]) if row else 0
    plan.legacy = None  # done: not kept in memory while sending
    if rewritten:
        log(f"ledger: {rewritten} hashes from before this release's hashing rewritten "
            "(same payload, nothing sent)")
    return rewritten
