"""The Python planner the SQL plan replaced (issue 15), kept as the baseline of
`tooling.bench.reconcile` and as the oracle of tests/sink/test_plan_oracle.py: every accepted
row fetched into a dict, built by `PayloadBuilder`, hashed (`v2:`) and checked with
`body_problem` in Python, every action kept in a list. Its decisions are the specification
the SQL plan must meet, action by action (only the hashes' version differs).

It writes nothing; `plan_partition` returns an in-memory `SyncPlan`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import date
from typing import Any

import duckdb

from pipeline.config import DistrictConfig
from pipeline.oneroster.bodies import body_problem
from pipeline.sink.ledger import REJECTED, SENT
from pipeline.sink.payloads import (
    LINE_ITEMS,
    RESULTS,
    PayloadBuilder,
    is_legacy_hash,
    legacy_payload_hash,
    v2_payload_hash,
    wrap,
)
from pipeline.sink.plan import PUTS, Action, SyncPlan, closed_grading_periods

JSON = dict[str, Any]


# What the ledger says of a row, with or without the SIS compared.
_LEDGER_COLUMNS = """
       l.payload_hash AS ledger_hash, l.state AS ledger_state,
       coalesce(l.first_sent_at IS NOT NULL AND l.state <> 'deleted', FALSE) AS ledger_sent,"""

# The partition's accepted rows, each with its ledger state and what the SIS held of it when
# last read, in the order they are sent. The rules layer's bookkeeping columns are left out:
# they are in no OneRoster record, and turning them (time-zone-aware timestamps among them)
# into Python objects per row buys nothing; so are the SIS's timestamps, compared here.
# - `ledger_sent`: the SIS holds an object under this sourcedId (sent once, not deleted);
# - `sis_state`: what the SIS's gradebook, read (`passback.sis_reads`, written by the extract
#   with the rows it read) after the ledger's last write of this object, says of it; NULL
#   when there is nothing to reconcile (held as sent, or not read since our write):
#   `missing` (the read did not find it), `edited` (it differs, and the SIS changed it after
#   our last write), `resent` (it differs, a difference was recorded before in
#   passback.sync_drift and Passback wrote it again since: the SIS stores it its own way),
#   `lost` (it differs, unchanged in the SIS since our write: the write did not hold);
# - `sis_changes`: the fields whose values in the SIS differ from this row's (NULL if none).
# Two columns, not five: every row becomes a Python dict, and most rows need neither.
_RECONCILE_SQL = """
       CASE WHEN NOT coalesce(l.last_sent_at < (
                     SELECT max(started_at) FROM passback.sis_reads
                     WHERE district = $district AND entity = '{entity}'), FALSE) THEN NULL
            WHEN s.sourced_id IS NULL THEN 'missing'
            WHEN NOT ({differs}) THEN NULL
            WHEN s.date_last_modified > l.last_sent_at THEN 'edited'
            WHEN l.last_sent_at > d.drift_seen THEN 'resent'
            ELSE 'lost' END AS sis_state,
       CASE WHEN s.sourced_id IS NOT NULL AND ({differs})
            THEN list_filter([{fields}], lambda x: x IS NOT NULL) END AS sis_changes
"""
# When each open difference was first seen, per object (a handful of rows, not millions).
_DRIFT_JOIN = """
LEFT JOIN (SELECT sourced_id, max(first_seen_at) AS drift_seen FROM passback.sync_drift
           WHERE district = $district AND entity = '{entity}' AND resolved_at IS NULL
           GROUP BY sourced_id) d ON d.sourced_id = a.sourced_id
"""


def _field(name: str, planned: str, held: str) -> str:
    """One compared field: a (field, in the SIS, planned) struct where they differ, else NULL."""
    return (f"CASE WHEN ({planned}) IS DISTINCT FROM ({held}) THEN {{'field': '{name}', "
            f"'sis': CAST(({held}) AS VARCHAR), 'planned': CAST(({planned}) AS VARCHAR)}} END")


# What the SIS stores of each field Passback writes, as `sis.*` flattens it (dates by their
# calendar day: line items are written at local noon, whose UTC date is the local one).
_COMPARED = {
    LINE_ITEMS: [
        ("title", "a.title", "s.title"),
        ("description", "nullif(a.description, '')", "nullif(s.description, '')"),
        ("assignDate", "a.assign_date", "s.assign_date"),
        ("dueDate", "a.due_date", "s.due_date"),
        ("class", "a.class_sourced_id", "s.class_sourced_id"),
        ("category", "a.category_sourced_id", "s.category_sourced_id"),
        ("gradingPeriod", "a.grading_period_sourced_id", "s.grading_period_sourced_id"),
        ("resultValueMin", "coalesce(a.result_value_min, 0.0)", "s.result_value_min"),
        ("resultValueMax", "a.result_value_max", "s.result_value_max"),
    ],
    RESULTS: [
        ("score", "a.score", "s.score"),
        ("scoreStatus", "a.score_status", "s.score_status"),
        ("scoreDate", "a.score_date", "s.score_date"),
        ("lineItem", "a.line_item_sourced_id", "s.line_item_sourced_id"),
        ("student", "a.student_sourced_id", "s.student_sourced_id"),
    ],
}


# The same columns with the SIS left out: the ledger alone (for measuring what comparing
# with the SIS costs; see `plan_partition`'s `reconcile`).
_LEDGER_ONLY_SQL = """
       NULL AS sis_state, NULL AS sis_changes
"""


def _partition_sql(entity: str, excluded: str, order: str, *, reconcile: bool = True) -> str:
    compared = _COMPARED[entity]
    fields = ", ".join(_field(*one) for one in compared)
    differs = " OR ".join(f"({planned}) IS DISTINCT FROM ({held})" for _, planned, held in compared)
    columns = _RECONCILE_SQL.format(entity=entity, fields=fields, differs=differs) \
        if reconcile else _LEDGER_ONLY_SQL
    sis_join = (f"LEFT JOIN sis.{entity} s ON s.district = a.district "
                "AND s.sourced_id = a.sourced_id" + _DRIFT_JOIN.format(entity=entity)
                ) if reconcile else ""
    return f"""
SELECT a.* EXCLUDE ({excluded}),{_LEDGER_COLUMNS}{columns}
FROM passback.{entity} a
LEFT JOIN passback.sync_ledger l
  ON l.district = a.district AND l.entity = '{entity}' AND l.sourced_id = a.sourced_id
{sis_join}
WHERE a.district = $district AND a.grading_period_sourced_id = $grading_period
ORDER BY {order}
"""


_SHAPES = {
    LINE_ITEMS: ("district, assignment_id, assessment_id, teacher_user_id, updated_at, as_of, "
                 "computed_at", "a.sourced_id"),
    RESULTS: ("district, assignment_id, missing_is_zero, updated_at, as_of, computed_at",
              "a.line_item_sourced_id, a.sourced_id"),
}
# (entity, reconcile) -> the partition's query.
_PARTITION_SQL = {(entity, reconcile): _partition_sql(entity, *shape, reconcile=reconcile)
                  for entity, shape in _SHAPES.items() for reconcile in (True, False)}
# What the SIS holds from this partition that the district no longer accepts anywhere:
# results before line items, so a deletion never leaves results under a missing line item.
# A record that moved to another grading period is still accepted (the other partition
# writes it, and deleting it here would race that write), hence the district-wide anti-join.
_REMOVALS_SQL = """
SELECT l.entity, l.sourced_id, l.line_item_sourced_id, l.payload_hash
FROM passback.sync_ledger l
WHERE l.district = $district AND l.grading_period_sourced_id = $grading_period
  AND l.first_sent_at IS NOT NULL AND l.state <> 'deleted'
  AND ((l.entity = 'results' AND NOT EXISTS (
          SELECT 1 FROM passback.results r
          WHERE r.district = l.district AND r.sourced_id = l.sourced_id))
    OR (l.entity = 'line_items' AND NOT EXISTS (
          SELECT 1 FROM passback.line_items li
          WHERE li.district = l.district AND li.sourced_id = l.sourced_id)))
ORDER BY l.entity = 'line_items', l.sourced_id
"""
# Rows converted to Python at a time: the partition never exists as one list of dicts.
_BATCH_ROWS = 10_000


def _partition_rows(conn: duckdb.DuckDBPyConnection, entity: str, district: str,
                    grading_period: str, reconcile: bool = True) -> Iterator[JSON]:
    """This partition's accepted rows of one entity with their ledger state, batch by batch.

    The caller must consume it before running another query on `conn` (which would close
    this result)."""
    params = {"district": district, "grading_period": grading_period}
    cursor = conn.execute(_PARTITION_SQL[entity, reconcile], params)
    names = [column[0] for column in cursor.description]
    while batch := cursor.fetchmany(_BATCH_ROWS):
        for row in batch:
            yield dict(zip(names, row, strict=True))


def plan_partition(conn: duckdb.DuckDBPyConnection, config: DistrictConfig,
                   grading_period: str, *, as_of: date, builder: PayloadBuilder | None = None,
                   reconcile: bool = True) -> SyncPlan:
    """The sync plan of one district and grading period (reads the warehouse, sends nothing).

    `reconcile=False` trusts the ledger alone (nothing restored, no drift): only to measure
    what comparing with the SIS costs."""
    builder = builder or PayloadBuilder.for_district(config)
    district, sis_edits = config.district, config.passback.sis_edits
    closed = grading_period in closed_grading_periods(conn, config, as_of)
    plan = SyncPlan(district, grading_period, closed, hrefs=builder.hrefs)
    for row in _partition_rows(conn, LINE_ITEMS, district, grading_period, reconcile):
        plan.actions.append(_plan_record(builder, LINE_ITEMS, row, grading_period, closed,
                                         sis_edits))
    held = {a.sourced_id for a in plan.actions if a.action in ("refused", "invalid")}
    # A result refused under a line item the SIS lacked (or held otherwise) may be accepted
    # once that line item is written: retried, not left `refused` until its score changes.
    rewritten = {a.sourced_id for a in plan.actions if a.action in PUTS}
    for row in _partition_rows(conn, RESULTS, district, grading_period, reconcile):
        # Many results share a line item: one string object for all of them, not one per row.
        line_item = row["line_item_sourced_id"] = sys.intern(row["line_item_sourced_id"])
        if line_item in held and not closed:
            plan.actions.append(Action(RESULTS, row["sourced_id"], "blocked", grading_period,
                                       line_item, reason="its line item is not in the SIS"))
            continue
        plan.actions.append(_plan_record(builder, RESULTS, row, grading_period, closed,
                                         sis_edits, retry_refused=line_item in rewritten))
    plan.actions += _removals(conn, district, grading_period, closed,
                              config.passback.propagate_deletions)
    return plan


def _plan_record(builder: PayloadBuilder, entity: str, row: JSON, grading_period: str,
                 closed: bool, sis_edits: str = "overwrite", *, retry_refused: bool = False,
                 ) -> Action:
    """The action for one accepted row, from its record's hash, its ledger state and what the
    SIS held of it when last read.

    Only writes keep their record (it is what they send); the row is dropped."""
    record = builder.content(entity, row)
    digest = v2_payload_hash(record)
    state, held = row["ledger_state"], row["ledger_hash"]
    legacy = None
    if held is not None and held != digest and is_legacy_hash(held) \
            and held == legacy_payload_hash(builder.hrefs.link(record)):
        legacy = held  # the same payload, hashed before hrefs left the hash
    base = {"entity": entity, "sourced_id": row["sourced_id"],
            "grading_period_sourced_id": grading_period,
            "line_item_sourced_id": row.get("line_item_sourced_id"), "payload_hash": digest,
            "changes": _changes(row.get("sis_changes"))}
    same = state is not None and (held == digest or legacy is not None)
    if same and state == SENT:
        sis_state = None if closed else row["sis_state"]
        if sis_state is None:
            return Action(action="unchanged", legacy_hash=legacy, **base)
        action, reason = _reconcile(sis_state, base["changes"], sis_edits)
        if action == "kept":
            return Action(action=action, reason=reason, legacy_hash=legacy, **base)
        return _write(builder, entity, record, action, reason, base)
    if closed:
        return Action(action="frozen", reason="the grading period is closed", **base)
    if same and state == REJECTED and not retry_refused:
        return Action(action="refused", reason="the SIS refused this exact payload",
                      legacy_hash=legacy, **base)
    reason = "refused before; its line item is written again" if same else None
    if legacy is None and held is not None and is_legacy_hash(held) and not same:
        # Said, not silent: an upgrade, a changed payload or a moved base URL re-sends it.
        reason = ("the ledger's hash predates base-URL-free hashes and differs from this "
                  "payload's with today's hrefs")
    return _write(builder, entity, record, "update" if row["ledger_sent"] else "create",
                  reason, base)


def _reconcile(state: str, changes: tuple[tuple[str, str | None, str | None], ...],
               sis_edits: str) -> tuple[str, str]:
    """(action, reason) for a payload the ledger says the SIS accepted and the SIS, read
    since, does not hold as accepted (`state` is the query's `sis_state`)."""
    if state == "missing":
        return "restore", "the SIS no longer holds it, though it accepted it"
    fields = ", ".join(name for name, _, _ in changes)
    if state == "resent":
        # Written again after the last difference, and still not stored as sent: the SIS
        # keeps its own form of the value (rounding, say). Sending it nightly changes nothing.
        return "kept", (f"the SIS stores {fields} otherwise than sent, even after sending it "
                        "again; not sent again until the value changes")
    if state == "lost":
        # Not changed in the SIS since our write, yet not what we wrote: the write was lost.
        return "restore", f"the SIS holds older values ({fields}) than it accepted"
    if sis_edits == "keep":
        return "kept", f"edited in the SIS after Passback's write ({fields}); kept"
    return "overwrite", f"edited in the SIS after Passback's write ({fields}); overwritten"


def _changes(found: list[JSON] | None) -> tuple[tuple[str, str | None, str | None], ...]:
    return tuple((c["field"], c["sis"], c["planned"]) for c in found) if found else ()


def _write(builder: PayloadBuilder, entity: str, record: JSON, action: str,
           reason: str | None, base: JSON) -> Action:
    """A write action carrying its record, or `invalid` when the body breaks the spec."""
    # Checked as sent (the spec requires hrefs); linked only here, not for unchanged rows.
    problem = body_problem(builder.version, entity, wrap(entity, builder.hrefs.link(record)))
    if problem:
        return Action(action="invalid", reason=problem, **base)
    return Action(action=action, reason=reason,
                  body=json.dumps(record, separators=(",", ":")).encode("utf-8"), **base)


def _removals(conn: duckdb.DuckDBPyConnection, district: str, grading_period: str,
              closed: bool, propagate: bool) -> list[Action]:
    """Objects the SIS holds from this partition that are no longer accepted anywhere."""
    if closed:
        action, reason = "frozen", "the grading period is closed"
    elif propagate:
        action, reason = "delete", "no longer passed back"
    else:
        action, reason = "stopped", ("no longer passed back; the SIS keeps it "
                                     "(passback.propagate_deletions is off)")
    params = {"district": district, "grading_period": grading_period}
    rows = conn.execute(_REMOVALS_SQL, params).fetchall()
    return [Action(entity, sourced_id, action, grading_period, line_item,
                   payload_hash=digest, reason=reason)
            for entity, sourced_id, line_item, digest in rows]
