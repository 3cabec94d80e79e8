"""Sending a plan: line items, then their results, then deletions, within the SIS budget.

A fixed set of worker threads (about the district's `max_concurrency`) pulls actions from one
iterator; each calls the OneRoster writer, whose transport retries 429 / 5xx / timeouts with
backoff (honouring `Retry-After`), renews an OAuth 2 token once on 401, and holds the
district's shared rate and in-flight budget. Every outcome goes to the ledger writer at once.
The calling thread only waits and logs progress at a steady interval, so Dagster's log calls
stay on the thread that owns the step. With a journal (pipeline/sink/history.py), each
request is noted before it is sent and its answer after, so a kill -9 loses no event.

With a bulk `WriteMode` (pipeline/sink/bulk.py), creates stream through a `Batcher` into bulk
bodies, which the workers send as they do single writes (`_send_batch`): a refused body is
split until the refused records stand alone, a SIS without bulk POSTs gets the rest by PUT,
and the sourcedIds the SIS allocates address every later request about those records.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from pipeline.oneroster import OneRosterAuthError, OneRosterError, WriteOutcome
from pipeline.oneroster.models import BulkOutcome
from pipeline.sink.bulk import Batch, WriteMode
from pipeline.sink.bulk_send import TRANSIENT, BulkSending
from pipeline.sink.history import Journal, people
from pipeline.sink.ledger import DELETED, FAILED, REJECTED, SENT, Outcome
from pipeline.sink.payloads import LINE_ITEMS, RESULTS
from pipeline.sink.plan import PUTS, Action, SyncPlan
from pipeline.sink.progress import SyncCounters

Log = Callable[[str], None]


class GradebookWriter(Protocol):
    """What the sink needs from a OneRoster writer (pipeline.oneroster.OneRosterWriter)."""

    def put(self, entity: str, sourced_id: str, payload: dict) -> WriteOutcome:
        """Create or replace one record."""

    def delete(self, entity: str, sourced_id: str) -> WriteOutcome:
        """Delete one record."""


class BulkWriter(GradebookWriter, Protocol):
    """A writer that also takes 1.2 bulk POSTs (OneRosterWriter does)."""

    def post_many(self, entity: str, path: str, records: list[dict] | None = None, *,
                  encoded: list[bytes] | None = None) -> BulkOutcome:
        """Create many records in one request (decoded, or as compact JSON)."""


class OutcomeSink(Protocol):
    """Where outcomes go (the ledger writer)."""

    def record(self, outcome: Outcome) -> None:
        """Take one outcome."""


@dataclass
class Execution(BulkSending):
    """One plan being sent: its client, its ledger writer and its counters."""

    plan: SyncPlan
    client: GradebookWriter
    ledger: OutcomeSink
    run_id: str
    concurrency: int
    requests: Callable[[], int]  # requests sent so far (retries included)
    log: Log
    progress_interval: float = 5.0
    journal: Journal | None = None
    counters: SyncCounters = field(default_factory=SyncCounters)
    accepted_line_items: set[str] = field(default_factory=set)
    # How creates go (None: one PUT each); what the first bulk try found is told `remember`
    # (bulk offered, SIS allocates its own ids, detail) to keep for later runs.
    mode: WriteMode | None = None
    remember: Callable[[bool | None, bool | None, str], None] | None = None
    # (entity, our sourcedId) -> the SIS's, where it allocated its own; filled as it does.
    sis_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    # Records a bulk POST nobody heard back from may have stored: never posted again.
    uncertain: set[tuple[str, str]] = field(default_factory=set)
    write_mode: str = "put"  # "bulk" or "put": how creates went (the run's metadata)
    write_mode_reason: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _source_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _abort: BaseException | None = None
    _probe: Batch | None = None
    _probed: threading.Event = field(default_factory=threading.Event, repr=False)
    _allocates_known: bool = False  # told `remember` that the SIS allocates ids

    def run(self) -> SyncCounters:
        """Send every write of the plan in order; raise if the SIS refuses our credentials."""
        self.counters.total = self.plan.planned_requests
        self.accepted_line_items = self.plan.held_line_items()
        bulk = self.mode is not None and self.mode.mode == "bulk" \
            and hasattr(self.client, "post_many")
        self.write_mode = "bulk" if bulk else "put"
        self.write_mode_reason = self.mode.reason if self.mode else "one PUT per record"
        if self.mode and self.mode.mode == "bulk" and not bulk:
            self.write_mode_reason = "this writer has no bulk POSTs"
        if not bulk or not self.mode or not self.mode.probe:
            self._probed.set()
        # The plan streams its writes class by class (a bulk body holds one class's records).
        self._phase(self._jobs(LINE_ITEMS, self.plan.writes(LINE_ITEMS, PUTS)))
        self._phase(self._jobs(RESULTS, self._results_ready()))
        self._phase(self.plan.writes(RESULTS, ("delete",)))
        self._phase(self.plan.writes(LINE_ITEMS, ("delete",)))
        self.log(f"sync finished: {self.counters.line(self.requests())}")
        return self.counters

    def _results_ready(self) -> Iterator[Action]:
        """Result writes whose line item the SIS holds; the others are blocked, not sent."""
        for action in self.plan.writes(RESULTS, PUTS):
            if action.line_item_sourced_id in self.accepted_line_items:
                yield action
            else:
                self.counters.add("blocked")

    def _phase(self, jobs: Iterable[Action | Batch]) -> None:
        """Send actions and bulk bodies with `concurrency` workers; log progress until they
        are done."""
        source = iter(jobs)
        workers = [threading.Thread(target=self._work, args=(source,), daemon=True,
                                    name=f"sink-{self.plan.district}-{n}")
                   for n in range(self.concurrency)]
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():
                worker.join(timeout=self.progress_interval)
                if worker.is_alive():
                    self.log(self.counters.line(self.requests()))
        if self._abort is not None:
            raise self._abort

    def _next(self, source: Iterator[Action | Batch]) -> Action | Batch | None:
        with self._source_lock:  # generators are not thread-safe
            if self._abort is not None:
                return None
            return next(source, None)

    def _work(self, source: Iterator[Action | Batch]) -> None:
        while (job := self._next(source)) is not None:
            try:
                if isinstance(job, Batch):
                    self._send_batch(job)
                else:
                    self._send(job)
            except OneRosterAuthError as error:
                # Bad credentials fail every request alike: stop instead of burning the budget.
                self._abort = error
            except BaseException as error:  # noqa: BLE001 - reported by _phase in the caller
                self._abort = error

    def _target(self, entity: str, sourced_id: str, given: str | None = None) -> str:
        """The sourcedId the SIS knows a record by: allocated in this run, else as the plan
        (the ledger) says, else ours."""
        return self.sis_ids.get((entity, sourced_id)) or given or sourced_id

    def _as_sent(self, action: Action) -> dict:
        """An action's record with its line item named as the SIS knows it."""
        record = action.record
        assert record is not None
        line_item = action.line_item_sourced_id
        if action.entity == RESULTS and line_item is not None:
            target = self._target(LINE_ITEMS, line_item, action.sis_line_item_sourced_id)
            if target != line_item:
                record["lineItem"] = {**record["lineItem"], "sourcedId": target}
        return record

    def _send(self, action: Action) -> None:
        record = None if action.action == "delete" else self._as_sent(action)
        target = self._target(action.entity, action.sourced_id, action.sis_sourced_id)
        request = _Request(action, datetime.now(UTC), *people(action.entity, record))
        if self.journal is not None:
            request.seq = self.journal.request(
                entity=action.entity, sourced_id=action.sourced_id, action=action.action,
                at=request.at, grading_period=action.grading_period_sourced_id,
                line_item=action.line_item_sourced_id, payload_hash=action.payload_hash,
                class_sourced_id=request.class_sourced_id,
                student_sourced_id=request.student_sourced_id)
        try:
            if action.action == "delete":
                outcome = self.client.delete(action.entity, target)
            else:
                assert record is not None
                outcome = self.client.put(action.entity, target, record)
        except OneRosterAuthError as error:
            # Not an outcome of this object (the credentials fail every request alike), so
            # no ledger row; the journal still says how the SIS answered this request.
            self._note_answer(request, FAILED, getattr(error, "status", None), 1, str(error))
            raise
        except OneRosterError as error:
            self._finish(request, FAILED, error.status, 0, str(error))
            return
        self._finish(request, *_classify(action, outcome),
                     description=outcome.imsx.description if outcome.imsx else None)

    def _note_answer(self, request: _Request, state: str, status: int | None, attempts: int,
                     description: str | None) -> datetime:
        answered = datetime.now(UTC)
        if self.journal is not None and request.seq is not None:
            self.journal.answer(request.seq, at=answered, status=status, state=state,
                                attempts=attempts, description=description)
        return answered

    def _finish(self, request: _Request, state: str, status: int | None, retries: int,
                error: str | None, description: str | None = None) -> None:
        action = request.action
        if state == SENT and action.entity == LINE_ITEMS:
            with self._lock:
                self.accepted_line_items.add(action.sourced_id)
        description = description or error
        answered = self._note_answer(request, state, status, 1 + retries, description)
        self.ledger.record(Outcome(
            self.plan.district, action.entity, action.sourced_id,
            action.grading_period_sourced_id, action.line_item_sourced_id,
            action.payload_hash, state, status, 1 + retries, error, answered,
            self.run_id, seq=request.seq, action=action.action, requested_at=request.at,
            class_sourced_id=request.class_sourced_id,
            student_sourced_id=request.student_sourced_id, description=description,
            # A record found in the SIS under its own id (see BulkSending._look_up).
            sis_sourced_id=self.sis_ids.get((action.entity, action.sourced_id))))
        self.counters.add({SENT: "sent", DELETED: "deleted", REJECTED: "refused",
                           FAILED: "failed"}[state], retries)


@dataclass
class _Request:
    """One write request in flight: what it is about, when it left, its journal number."""

    action: Action
    at: datetime
    class_sourced_id: str | None
    student_sourced_id: str | None
    seq: int | None = None


def _classify(action: Action, outcome: WriteOutcome) -> tuple[str, int, int, str | None]:
    """(ledger state, HTTP status, retries, error) for one answer of the SIS."""
    if outcome.ok:
        return (DELETED if action.action == "delete" else SENT), outcome.status, \
            outcome.retries, None
    if action.action == "delete" and outcome.status == 404:
        return DELETED, outcome.status, outcome.retries, None  # already gone: the goal holds
    description = outcome.imsx.description if outcome.imsx and outcome.imsx.description \
        else f"HTTP {outcome.status}"
    if 400 <= outcome.status < 500 and outcome.status not in TRANSIENT:
        return REJECTED, outcome.status, outcome.retries, description
    return FAILED, outcome.status, outcome.retries, description
