"""The sync plan: what one district and grading period needs sent to the SIS, and why.

Every accepted line item and result (from `passback.line_items` / `passback.results`) is
built into its OneRoster record and hashed; the ledger says what the SIS last accepted.
- create / update: the SIS lacks this exact payload (never accepted, or accepted differently);
- unchanged: the ledger holds the same hash as accepted; nothing is sent;
- refused: the SIS refused this exact payload before: not retried until the payload changes;
- blocked: a result whose line item the SIS refused (or would not be sent);
- invalid: the body breaks the OneRoster spec (a bug upstream): never sent;
- delete / stopped: sent before, no longer accepted anywhere in the district. Deleted only
  when the district turns `passback.propagate_deletions` on (the SIS is the system of record);
- frozen: the grading period is closed: a closed period is never written again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from pipeline.config import DistrictConfig
from pipeline.grading_periods import CLOSED_PREDICATE, closed_params
from pipeline.sink.ledger import DELETED, REJECTED, SENT, LedgerEntry, read_ledger
from pipeline.sink.payloads import LINE_ITEMS, RESULTS, PayloadBuilder, payload_hash, wrap
from pipeline.sink.schema import body_problem

JSON = dict[str, Any]
WRITES = ("create", "update", "delete")
ACTIONS = ("create", "update", "delete", "unchanged", "refused", "blocked", "invalid",
           "stopped", "frozen")

_CLOSED_SQL = f"""
SELECT sourced_id FROM sis.academic_sessions
WHERE district = $district AND type = 'gradingPeriod' AND {CLOSED_PREDICATE}
"""


@dataclass(frozen=True)
class Action:
    """One object and what the sync does with it."""

    entity: str
    sourced_id: str
    action: str
    grading_period_sourced_id: str
    line_item_sourced_id: str | None = None
    record: JSON | None = None  # the OneRoster record to PUT (create / update)
    payload_hash: str | None = None
    reason: str | None = None


@dataclass
class SyncPlan:
    """The plan of one district and grading period."""

    district: str
    grading_period_sourced_id: str
    closed: bool
    actions: list[Action] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many objects fall under each action (every action named, zeros included)."""
        found = Counter(a.action for a in self.actions)
        return {name: found.get(name, 0) for name in ACTIONS}

    def writes(self, entity: str, kinds: tuple[str, ...] = WRITES) -> list[Action]:
        """The actions of one entity that send a request."""
        return [a for a in self.actions if a.entity == entity and a.action in kinds]

    @property
    def planned_requests(self) -> int:
        """Requests the plan sends when nothing fails (retries not counted)."""
        return sum(1 for a in self.actions if a.action in WRITES)

    def samples(self, per_action: int = 2) -> dict[str, list[JSON]]:
        """A few sample payloads per write action (sourcedIds only: no student names)."""
        found: dict[str, list[JSON]] = {}
        for item in self.actions:
            if item.action in WRITES and len(found.setdefault(item.action, [])) < per_action:
                found[item.action].append(
                    wrap(item.entity, item.record) if item.record is not None
                    else {"DELETE": f"{item.entity}/{item.sourced_id}"})
        return found


def closed_grading_periods(conn: duckdb.DuckDBPyConnection, config: DistrictConfig,
                           as_of: date) -> set[str]:
    """Grading periods of a district that are closed on `as_of`."""
    rows = conn.execute(_CLOSED_SQL, {"district": config.district,
                                      **closed_params(config, as_of)}).fetchall()
    return {row[0] for row in rows} | set(config.passback.closed_grading_periods.listed)


def _rows(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[JSON]:
    cursor = conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _accepted(conn: duckdb.DuckDBPyConnection, district: str, grading_period: str
              ) -> tuple[list[JSON], list[JSON], set[tuple[str, str]]]:
    """This partition's accepted rows, and every accepted (entity, sourcedId) of the district."""
    line_items = _rows(conn, "SELECT * FROM passback.line_items WHERE district = ? AND "
                       "grading_period_sourced_id = ? ORDER BY sourced_id",
                       [district, grading_period])
    results = _rows(conn, "SELECT * FROM passback.results WHERE district = ? AND "
                    "grading_period_sourced_id = ? ORDER BY line_item_sourced_id, sourced_id",
                    [district, grading_period])
    # A record that moved to another grading period is not "removed": the other partition
    # writes it, and deleting it here would race that write.
    everywhere = conn.execute(
        "SELECT 'line_items', sourced_id FROM passback.line_items WHERE district = $d "
        "UNION ALL SELECT 'results', sourced_id FROM passback.results WHERE district = $d",
        {"d": district}).fetchall()
    return line_items, results, {(row[0], row[1]) for row in everywhere}


def plan_partition(conn: duckdb.DuckDBPyConnection, config: DistrictConfig,
                   grading_period: str, *, as_of: date, builder: PayloadBuilder | None = None,
                   ) -> SyncPlan:
    """The sync plan of one district and grading period (reads the warehouse, sends nothing)."""
    builder = builder or PayloadBuilder.for_district(config)
    closed = grading_period in closed_grading_periods(conn, config, as_of)
    line_items, results, accepted_anywhere = _accepted(conn, config.district, grading_period)
    ledger = read_ledger(conn, config.district)
    plan = SyncPlan(config.district, grading_period, closed)
    for row in line_items:
        plan.actions.append(_plan_record(builder, LINE_ITEMS, row, ledger, closed))
    held = {a.sourced_id for a in plan.actions if a.action in ("refused", "invalid")}
    for row in results:
        if row["line_item_sourced_id"] in held and not closed:
            plan.actions.append(Action(RESULTS, row["sourced_id"], "blocked", grading_period,
                                       row["line_item_sourced_id"],
                                       reason="its line item is not in the SIS"))
            continue
        plan.actions.append(_plan_record(builder, RESULTS, row, ledger, closed))
    plan.actions += _removals(ledger, grading_period, accepted_anywhere, closed,
                              config.passback.propagate_deletions)
    return plan


def _plan_record(builder: PayloadBuilder, entity: str, row: JSON,
                 ledger: dict[tuple[str, str], LedgerEntry], closed: bool) -> Action:
    record = builder.record(entity, row)
    digest = payload_hash(record)
    entry = ledger.get((entity, row["sourced_id"]))
    line_item = row.get("line_item_sourced_id")
    base = {"entity": entity, "sourced_id": row["sourced_id"],
            "grading_period_sourced_id": row["grading_period_sourced_id"],
            "line_item_sourced_id": line_item, "payload_hash": digest}
    same = entry is not None and entry.payload_hash == digest
    if same and entry.state == SENT:
        return Action(action="unchanged", **base)
    if closed:
        return Action(action="frozen", record=record, reason="the grading period is closed",
                      **base)
    if same and entry.state == REJECTED:
        return Action(action="refused", reason="the SIS refused this exact payload", **base)
    problem = body_problem(builder.version, entity, wrap(entity, record))
    if problem:
        return Action(action="invalid", record=record, reason=problem, **base)
    exists = entry is not None and entry.first_sent_at is not None and entry.state != DELETED
    return Action(action="update" if exists else "create", record=record, **base)


def _removals(ledger: dict[tuple[str, str], LedgerEntry], grading_period: str,
              accepted_anywhere: set[tuple[str, str]], closed: bool, propagate: bool,
              ) -> list[Action]:
    """Objects the SIS holds from us that are no longer accepted; results before line items."""
    removals: list[Action] = []
    for entity in (RESULTS, LINE_ITEMS):
        for (kind, sourced_id), entry in sorted(ledger.items()):
            if kind != entity or entry.grading_period_sourced_id != grading_period:
                continue
            if (kind, sourced_id) in accepted_anywhere or entry.first_sent_at is None \
                    or entry.state == DELETED:
                continue
            if closed:
                action, reason = "frozen", "the grading period is closed"
            elif propagate:
                action, reason = "delete", "no longer passed back"
            else:
                action, reason = "stopped", ("no longer passed back; the SIS keeps it "
                                             "(passback.propagate_deletions is off)")
            removals.append(Action(entity, sourced_id, action, grading_period,
                                   entry.line_item_sourced_id, payload_hash=entry.payload_hash,
                                   reason=reason))
    return removals
