"""Sending creates in bulk bodies: the part of `Execution` (pipeline/sink/execute.py) that
groups, posts, splits and falls back.

- The stream of writes goes through a `Batcher` (pipeline/sink/bulk.py); a create goes in a
  body, anything else (and a create a lost bulk answer left uncertain) goes alone by PUT.
- `auto` with nothing remembered: the first body goes alone (the others wait in the stream)
  and decides: taken, bulk for the rest; 403 / 404 / 405 / 501, PUT for the rest, and both
  are remembered for the district.
- A refused body (4xx other than 401 / 408 / 429) is split in halves until each refused
  record stands alone with the SIS's reason (a `rejected` ledger row, as a refused PUT);
  every other record is stored in the same run. Each refused body is one `split` event per
  record in its history.
- A body whose answer was lost may have been stored. Where the SIS keeps our sourcedIds its
  records go again by PUT (idempotent by sourcedId); where it allocates its own, they end
  `failed` with no status, and the next run sends them by PUT to what it reads back
  rather than posting them again (see `uncertain_records`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from pipeline.oneroster import OneRosterAuthError, OneRosterError
from pipeline.oneroster.writer import bulk_path
from pipeline.sink.bulk import NOT_OFFERED, Batch, Batcher, container
from pipeline.sink.history import people
from pipeline.sink.ledger import FAILED, REJECTED, RESENT, SENT, SPLIT, Outcome
from pipeline.sink.payloads import LINE_ITEMS
from pipeline.sink.plan import Action

if TYPE_CHECKING:
    from pipeline.sink.execute import Execution

# HTTP statuses that mean "the SIS is busy or broken", not "the SIS refuses this payload".
TRANSIENT = frozenset({401, 408, 429})


class BulkSending:
    """Methods of `Execution` for bulk bodies (a mixin: state lives on the Execution)."""

    def _bulkable(self: Execution, action: Action) -> bool:
        if self.write_mode != "bulk" or action.body is None:
            return False
        if (action.entity, action.sourced_id) in self.uncertain:
            return False  # never posted twice: PUT (by id) or reconciled instead
        return action.action == "create" or (
            action.action == "restore" and action.sis_sourced_id is None
            and (action.entity, action.sourced_id) not in self.sis_ids)

    def _jobs(self: Execution, entity: str, actions: Iterable[Action]
              ) -> Iterator[Action | Batch]:
        """The writes of one phase as jobs: bulk bodies of creates, single writes of the
        rest. Runs under the source lock, so a first body that decides waits here."""
        assert self.mode is not None or self.write_mode == "put"
        batcher = Batcher(entity, self.mode.max_records if self.mode else 1,
                          self.mode.max_bytes if self.mode else 1)
        results_by = self.mode.results_by if self.mode else "class"
        for action in actions:
            if (action.entity, action.sourced_id) in self.uncertain and self._allocates():
                self._look_up(action)  # in the SIS: PUT to its id; not there: post it
            if not self._bulkable(action):
                if self.write_mode != "bulk":
                    for batch in batcher.flush():  # bulk ended: what waited goes by PUT
                        yield from batch.actions
                yield action
                continue
            record, encoded = self._encoded(action)
            line_item = record.get("lineItem", {}).get("sourcedId", "")
            for batch in batcher.add(container(action, record, line_item, results_by), action,
                                     record, encoded):
                yield from self._released(batch)
        for batch in batcher.flush():
            yield from self._released(batch)

    def _encoded(self: Execution, action: Action) -> tuple[dict, bytes]:
        """(its references as sent, its record as sent) of a create, from the planned bytes
        without decoding them (a first sync posts millions): a result's line item is
        renamed in place where the SIS gave it its own sourcedId."""
        body = action.body or b""
        refs = {name: {"sourcedId": found} for name in ("class", "student")
                if (found := _ref(body, name)) is not None}
        line_item = action.line_item_sourced_id
        if action.entity == LINE_ITEMS or line_item is None:
            return refs, body
        target = self._target(LINE_ITEMS, line_item, action.sis_line_item_sourced_id)
        refs["lineItem"] = {"sourcedId": target}
        if target != line_item:
            body = body.replace(_REF_TEMPLATE % (b"lineItem", _escaped(line_item)),
                                _REF_TEMPLATE % (b"lineItem", _escaped(target)), 1)
        return refs, body

    def _allocates(self: Execution) -> bool:
        """Whether the SIS allocates its own sourcedIds: remembered, or seen in the ledger."""
        return bool(self.mode and self.mode.allocates_ids) or bool(self.sis_ids)

    def _look_up(self: Execution, action: Action) -> None:
        """Whether the SIS holds a record a lost bulk POST may have stored, where the SIS
        allocates its own ids: a result by line item and student, a line item by class,
        title and dates. Found: its id addresses the write (a PUT); not found: it may be
        posted. Runs in the stream, under the source lock (a few records per crash)."""
        record = self._as_sent(action)
        key = (action.entity, action.sourced_id)
        if action.entity == LINE_ITEMS:
            path = f"/classes/{quote(record['class']['sourcedId'], safe='')}/lineItems"
            match = [r for r in self._held(action.entity, path)
                     if r.get("title") == record.get("title") and all(
                         str(r.get(day, ""))[:10] == str(record.get(day, ""))[:10]
                         for day in ("assignDate", "dueDate"))]
        else:
            line_item = record["lineItem"]["sourcedId"]
            path = (f"/classes/{quote(record['class']['sourcedId'], safe='')}/lineItems/"
                    f"{quote(line_item, safe='')}/results")
            student = record["student"]["sourcedId"]
            match = [r for r in self._held(action.entity, path)
                     if (r.get("student") or {}).get("sourcedId") == student]
        if len(match) == 1 and match[0].get("sourcedId"):
            self.sis_ids[key] = match[0]["sourcedId"]
        elif not match:
            self.uncertain.discard(key)  # the SIS does not hold it: posting is safe

    def _held(self: Execution, entity: str, path: str) -> list[dict]:
        cache = self.__dict__.setdefault("_read_cache", {})
        if path not in cache:
            cache[path] = self.client.read_many(entity, path)
        return cache[path]

    def _released(self: Execution, batch: Batch) -> Iterator[Action | Batch]:
        if self.write_mode != "bulk":
            yield from batch.actions
            return
        if not self._probed.is_set() and self._probe is None:
            self._probe = batch
            yield batch
            self._probed.wait()  # the first body decides before any other goes
            return
        yield batch

    def _send_batch(self: Execution, batch: Batch) -> None:
        """Send one bulk body (or, bulk having ended, its records by PUT)."""
        probe = batch is self._probe
        try:
            if self.write_mode != "bulk":
                for action in batch.actions:
                    self._send(action)
                return
            self._post(batch, probe)
        finally:
            if probe:
                self._probed.set()

    def _post(self: Execution, batch: Batch, probe: bool) -> None:
        at = datetime.now(UTC)
        seq = self._journal_bulk(batch, at)
        path = bulk_path(batch.entity, batch.container)
        try:
            outcome = self.client.post_many(batch.entity, path, encoded=batch.encoded)
        except OneRosterAuthError as error:
            self._answer(seq, FAILED, getattr(error, "status", None), 1, str(error))
            raise
        except OneRosterError as error:
            self._lost(batch, seq, at, f"no answer ({error})")
            return
        except ValueError as error:  # the body breaks the spec: nothing was sent
            self._refused(batch, seq, at, None, 0, str(error))
            return
        status, retries = outcome.status, outcome.retries
        description = (outcome.imsx.description if outcome.imsx and outcome.imsx.description
                       else f"HTTP {status}")
        if outcome.ok:
            allocated = {supplied: sis for supplied, sis in outcome.pairs.items()
                         if sis != supplied}
            self._accepted(batch, seq, at, status, retries, allocated)
            learnt = probe or (allocated and not self._allocates_known)
            if learnt and self.remember is not None:
                self._allocates_known = self._allocates_known or bool(allocated)
                self.remember(True, bool(allocated),
                              f"bulk POST taken (HTTP {status}) {at:%Y-%m-%d}")
        elif probe and status in NOT_OFFERED:
            self.write_mode = "put"
            self.write_mode_reason = f"the SIS answered HTTP {status} to a bulk POST"
            if self.remember is not None:
                self.remember(False, None, f"HTTP {status}: {description}")
            self._record(batch, seq, at, RESENT, status, retries,
                         f"no bulk POSTs here ({description}); sent by PUT")
            for action in batch.actions:
                self._send(action)
        elif 400 <= status < 500 and status not in TRANSIENT:
            self._refused(batch, seq, at, status, retries, description)
        elif status >= 500:  # the SIS may have stored part of it before failing
            self._lost(batch, seq, at, description, status, retries)
        else:
            self._record(batch, seq, at, FAILED, status, retries, description)

    def _refused(self: Execution, batch: Batch, seq: int | None, at: datetime,
                 status: int | None, retries: int, description: str) -> None:
        """A refused body: the record's rejection if it stands alone, else two halves."""
        if len(batch.actions) == 1:
            self._record(batch, seq, at, REJECTED, status, retries, description)
            return
        self._record(batch, seq, at, SPLIT, status, retries, description)
        for half in batch.halves():
            self._post(half, False)

    def _lost(self: Execution, batch: Batch, seq: int | None, at: datetime, error: str,
              status: int | None = None, retries: int = 0) -> None:
        """No answer, or a 5xx: the SIS may hold some records. PUT by sourcedId where that
        cannot make a second record (PUT retries 5xx); else leave them for the next run
        to look up."""
        if not self._allocates():
            self._record(batch, seq, at, RESENT, status, retries,
                         f"{error}; sent by PUT (idempotent by sourcedId)")
            for action in batch.actions:
                self._send(action)
            return
        self._record(batch, seq, at, FAILED, status, retries,
                     f"{error}; the SIS allocates its own sourcedIds, so the next run looks "
                     "them up in the SIS before posting any again")

    def _accepted(self: Execution, batch: Batch, seq: int | None, at: datetime, status: int,
                  retries: int, allocated: dict[str, str]) -> None:
        for action in batch.actions:
            sis = allocated.get(action.sourced_id)
            if sis is not None:
                self.sis_ids[(action.entity, action.sourced_id)] = sis
        if batch.entity == LINE_ITEMS:
            with self._lock:
                self.accepted_line_items.update(a.sourced_id for a in batch.actions)
        self._record(batch, seq, at, SENT, status, retries, None, allocated)

    def _journal_bulk(self: Execution, batch: Batch, at: datetime) -> int | None:
        if self.journal is None:
            return None
        records = []
        for action, record in zip(batch.actions, batch.records, strict=True):
            klass, student = people(action.entity, record)
            records.append({"sourced_id": action.sourced_id,
                            "line_item": action.line_item_sourced_id, "class": klass,
                            "student": student, "payload_hash": action.payload_hash})
        return self.journal.bulk_request(
            entity=batch.entity, action=batch.actions[0].action, at=at,
            grading_period=batch.actions[0].grading_period_sourced_id, records=records)

    def _answer(self: Execution, seq: int | None, state: str, status: int | None,
                attempts: int, description: str | None) -> datetime:
        answered = datetime.now(UTC)
        if self.journal is not None and seq is not None:
            self.journal.answer(seq, at=answered, status=status, state=state,
                                attempts=attempts, description=description)
        return answered

    def _record(self: Execution, batch: Batch, seq: int | None, at: datetime, state: str,
                status: int | None, retries: int, description: str | None,
                allocated: dict[str, str] | None = None) -> None:
        """Every record's outcome of one bulk request, committed together (one event per
        record, all under the request's number)."""
        answered = self._answer(seq, state, status, 1 + retries, description)
        error = None if state == SENT else description
        outcomes = []
        for action, record in zip(batch.actions, batch.records, strict=True):
            klass, student = people(action.entity, record)
            outcomes.append(Outcome(
                self.plan.district, action.entity, action.sourced_id,
                action.grading_period_sourced_id, action.line_item_sourced_id,
                action.payload_hash, state, status, 1 + retries, error, answered, self.run_id,
                seq=seq, action=action.action, requested_at=at, class_sourced_id=klass,
                student_sourced_id=student, description=description,
                sis_sourced_id=(allocated or {}).get(action.sourced_id)))
        record_many = getattr(self.ledger, "record_many", None)
        if record_many is not None:
            record_many(outcomes)
        else:
            for outcome in outcomes:
                self.ledger.record(outcome)
        count = {SENT: "sent", REJECTED: "refused", FAILED: "failed"}.get(state)
        self.counters.add_many(count or "sent", len(outcomes) if count else 0, retries)


_REF_TEMPLATE = b'"%s":{"sourcedId":"%s"'


def _escaped(text: str) -> bytes:
    """A string as it appears inside compact JSON (the plan encodes with ensure_ascii)."""
    return json.dumps(text)[1:-1].encode("ascii")


def _ref(body: bytes, name: str) -> str | None:
    """The sourcedId a compact JSON record's reference `name` names, read off the bytes (a
    key's quotes cannot occur unescaped inside a string value); decoded where escaped."""
    marker = b'"' + name.encode() + b'":{"sourcedId":"'
    start = body.find(marker)
    if start < 0:
        return None
    start += len(marker)
    found = body[start:body.find(b'"', start)]
    if b"\\" in found:
        return json.loads(body)[name]["sourcedId"]
    return found.decode("ascii")
