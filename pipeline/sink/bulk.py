"""OneRoster 1.2 bulk writes: which creates go in bulk bodies, how they are grouped, and what
the district's SIS was found to offer.

A first sync of a 50,000-student grading period plans about 3 million creates; one PUT each
is hours at 5 concurrent requests. The 1.2 gradebook service takes many records per request:
line items by class (`POST /classes/{c}/lineItems`), results by class and grading period
(`POST /classes/{c}/academicSessions/{gp}/results`, many line items' results in one body) or
by line item (`POST /lineItems/{li}/results`). Updates, drift writes and deletions stay PUT /
DELETE (idempotent by sourcedId); only `create`, and `restore` of a record the SIS keeps
under our sourcedId, go in bulk.

`passback.sis_capabilities` remembers, per district, whether the SIS took a bulk POST (a
404 / 405 / 501, or a 403 for a scope it does not grant, on the first try turns bulk off
for the run and for later runs; `auto` tries again after `RETRY_AFTER_DAYS`) and whether it
allocates its own sourcedIds (then a re-sent POST could create a second record, so records
whose bulk POST got no answer are reconciled instead of re-posted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb

from pipeline.config import DistrictConfig
from pipeline.sink.payloads import LINE_ITEMS, RESULTS
from pipeline.sink.plan import Action
from pipeline.warehouse import transaction

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
# Statuses that, on the first bulk try, mean "this SIS does not offer bulk POSTs to us".
NOT_OFFERED = frozenset({403, 404, 405, 501})
# A district remembered without bulk is tried again after this long (`bulk_writes: auto`).
RETRY_AFTER_DAYS = 30
# What links add to a planned record (four references' hrefs), for the byte budget.
_LINK_BYTES = 400
# Open bodies held at once, in records, as a multiple of `bulk_max_records`: results stream
# by line item, and a body per class fills from many line items.
_BUFFERED_BODIES = 8
# How results are grouped: "class" (class and grading period) or "line_item".
RESULTS_BY = "class"


@dataclass(frozen=True)
class WriteMode:
    """How this run writes creates: `bulk` or `put`, why, and whether the first bulk
    request decides (`probe`: `auto` with nothing remembered)."""

    mode: str
    reason: str
    probe: bool = False
    max_records: int = 1000
    max_bytes: int = 4_000_000
    allocates_ids: bool | None = None
    results_by: str = RESULTS_BY


def read_capabilities(conn: duckdb.DuckDBPyConnection, district: str
                      ) -> tuple[bool | None, bool | None, datetime | None]:
    """(bulk_writes, allocates_ids, checked_at) remembered for a district, None when not."""
    row = conn.execute("SELECT bulk_writes, allocates_ids, checked_at FROM "
                       "passback.sis_capabilities WHERE district = ?", [district]).fetchone()
    return (row[0], row[1], row[2]) if row else (None, None, None)


def remember_capabilities(connect: Connect, district: str, *, bulk: bool | None,
                          allocates_ids: bool | None, detail: str) -> None:
    """Record what the SIS was found to offer (a value None keeps the one remembered)."""
    with connect() as conn, transaction(conn):
        conn.execute("""
            INSERT INTO passback.sis_capabilities (district, bulk_writes, allocates_ids,
                                                   checked_at, detail)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (district) DO UPDATE SET
                bulk_writes = coalesce(EXCLUDED.bulk_writes, bulk_writes),
                allocates_ids = coalesce(EXCLUDED.allocates_ids, allocates_ids),
                checked_at = EXCLUDED.checked_at, detail = EXCLUDED.detail""",
                     [district, bulk, allocates_ids, datetime.now(UTC), detail[:500]])


def choose_write_mode(conn: duckdb.DuckDBPyConnection, config: DistrictConfig,
                      now: datetime | None = None) -> WriteMode:
    """The district's write mode for this run, from its setting and what is remembered."""
    sis = config.sis
    bulk, allocates, checked = read_capabilities(conn, config.district)
    limits = {"max_records": sis.bulk_max_records, "max_bytes": sis.bulk_max_bytes,
              "allocates_ids": allocates}
    if sis.oneroster_version != "1.2":
        return WriteMode("put", "OneRoster 1.1 has no bulk writes", **limits)
    if sis.bulk_writes == "off":
        return WriteMode("put", "sis.bulk_writes: off", **limits)
    if sis.bulk_writes == "on":
        return WriteMode("bulk", "sis.bulk_writes: on", **limits)
    now = now or datetime.now(UTC)
    if bulk is False and checked is not None and now - checked < timedelta(RETRY_AFTER_DAYS):
        return WriteMode("put", f"the SIS did not offer bulk POSTs when tried on "
                         f"{checked:%Y-%m-%d} (passback.sis_capabilities)", **limits)
    if bulk:
        return WriteMode("bulk", "the SIS took bulk POSTs before", **limits)
    return WriteMode("bulk", "sis.bulk_writes: auto; the first bulk POST decides", probe=True,
                     **limits)


# Records a bulk POST may have stored though the ledger does not say so, and nothing was sent
# for them since: (a) written by a run that died (no `finished_at`): journaled and never
# answered, or answered but killed before the ledger's commit; (b) a lost answer (ledger
# `failed` without a status, never accepted).
_UNCERTAIN_SQL = """
SELECT DISTINCT e.entity, e.sourced_id
FROM passback.sync_events e
JOIN passback.sync_runs r
  ON r.district = e.district AND r.run_id = e.run_id
 AND r.grading_period_sourced_id = e.grading_period_sourced_id
LEFT JOIN passback.sync_ledger l
  ON l.district = e.district AND l.entity = e.entity AND l.sourced_id = e.sourced_id
WHERE e.district = $district AND e.grading_period_sourced_id = $grading_period
  AND r.finished_at IS NULL AND NOT r.dry_run AND e.action IN ('create', 'restore')
  AND e.state IN ('unanswered', 'sent', 'failed')
  AND (l.sourced_id IS NULL OR l.state <> 'sent' OR l.last_sent_at < e.requested_at)
UNION
SELECT entity, sourced_id FROM passback.sync_ledger
WHERE district = $district AND grading_period_sourced_id = $grading_period
  AND state = 'failed' AND (http_status IS NULL OR http_status >= 500)
  AND first_sent_at IS NULL
"""


def uncertain_records(conn: duckdb.DuckDBPyConnection, district: str, grading_period: str
                      ) -> set[tuple[str, str]]:
    """(entity, sourcedId) of records the SIS may hold from a bulk POST nobody heard back
    from: never posted again (a re-sent POST could store them twice)."""
    rows = conn.execute(_UNCERTAIN_SQL, {"district": district,
                                         "grading_period": grading_period}).fetchall()
    return {(row[0], row[1]) for row in rows}


@dataclass
class Batch:
    """One bulk body in the making: its records' actions and the container it goes to."""

    entity: str
    container: tuple[str, ...]
    actions: list[Action] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)  # as sent (SIS ids in references)
    encoded: list[bytes] = field(default_factory=list)  # the same, as compact JSON
    size: int = 0

    def halves(self) -> tuple[Batch, Batch]:
        """The body split in two, for isolating a refused record."""
        middle = len(self.actions) // 2
        return (Batch(self.entity, self.container, self.actions[:middle],
                      self.records[:middle], self.encoded[:middle]),
                Batch(self.entity, self.container, self.actions[middle:],
                      self.records[middle:], self.encoded[middle:]))


class Batcher:
    """Groups a stream of creates into bulk bodies by container, each at most `max_records`
    records and about `max_bytes` bytes; at most `_BUFFERED_BODIES` bodies' worth of records
    wait at once (the fullest open body goes first when more would), so memory stays flat
    whatever the order of the stream."""

    def __init__(self, entity: str, max_records: int, max_bytes: int) -> None:
        self.entity = entity
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._open: dict[tuple[str, ...], Batch] = {}
        self._held = 0

    def add(self, container: tuple[str, ...], action: Action, record: dict,
            encoded: bytes = b"") -> Iterator[Batch]:
        """Take one create and its record as sent (decoded and encoded); yield any body
        that is now complete."""
        size = len(encoded or action.body or b"") + _LINK_BYTES
        batch = self._open.get(container)
        if batch is not None and batch.actions and batch.size + size > self.max_bytes:
            yield self._take(container)
            batch = None
        if batch is None:
            batch = self._open[container] = Batch(self.entity, container)
        batch.actions.append(action)
        batch.records.append(record)
        batch.encoded.append(encoded or action.body or b"")
        batch.size += size
        self._held += 1
        if len(batch.actions) >= self.max_records:
            yield self._take(container)
        elif self._held > _BUFFERED_BODIES * self.max_records:
            yield self._take(max(self._open, key=lambda key: len(self._open[key].actions)))

    def flush(self) -> Iterator[Batch]:
        """Every open body, at the end of the stream."""
        while self._open:
            yield self._take(next(iter(self._open)))

    def _take(self, container: tuple[str, ...]) -> Batch:
        batch = self._open.pop(container)
        self._held -= len(batch.actions)
        return batch


def container(action: Action, record: dict, line_item_target: str, results_by: str
              ) -> tuple[str, ...]:
    """Where a create goes in bulk: its class for a line item; its class and grading period
    (or its line item, by the SIS's sourcedId) for a result."""
    if action.entity == LINE_ITEMS:
        return ("class", record["class"]["sourcedId"])
    assert action.entity == RESULTS
    klass = record.get("class")
    if results_by == "class" and isinstance(klass, dict) and klass.get("sourcedId"):
        return ("class", klass["sourcedId"], "academicSession",
                action.grading_period_sourced_id)
    return ("lineItem", line_item_target)


def bulk_setup(connect: Connect, config: DistrictConfig, grading_period: str,
               log: Callable[[str], None]) -> dict:
    """What an `Execution` needs for bulk writes, read in one short connection: `mode`,
    `remember`, `sis_ids` (this run's allocations; the plan names the earlier ones, from
    the ledger, in `Action.sis_sourced_id`) and `uncertain` (keyword arguments)."""
    with connect() as conn:
        mode = choose_write_mode(conn, config)
        uncertain = uncertain_records(conn, config.district, grading_period)
    if uncertain:
        log(f"bulk: {len(uncertain)} record(s) of bulk POSTs that got no answer are sent by "
            "PUT, not posted again")

    def remember(bulk: bool | None, allocates: bool | None, detail: str) -> None:
        remember_capabilities(connect, config.district, bulk=bulk, allocates_ids=allocates,
                              detail=detail)

    return {"mode": mode, "remember": remember, "sis_ids": {}, "uncertain": uncertain}
