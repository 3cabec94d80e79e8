"""Reading the sink's history for people: what the next run would change, and what was sent.

    plan_changes(conn, plan) -> list[PlannedChange]      (`passback plan`)
    sent_history(conn, district, ...) -> list[dict]      (`passback history`)

Read-only: nothing here writes the warehouse or talks to the SIS. Rows carry sourcedIds,
titles and scores, never a student's name.

Old values of an update: `Action.changes` when the plan compared with what the SIS holds;
otherwise the last payload the SIS accepted, which the plan history keeps (the
`passback.sync_plan` row of the ledger's hash), compared field by field with the new record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.sink.history import people
from pipeline.sink.plan import ACTIONS, Action, SyncPlan

# Fields of a record that are no content of it: when it was last written, its own id.
_NOT_COMPARED = {"dateLastModified", "sourcedId"}


@dataclass
class PlannedChange:
    """One object the next run would touch (every action but `unchanged`)."""

    grading_period: str
    action: str
    entity: str
    sourced_id: str
    line_item_sourced_id: str | None
    class_sourced_id: str | None
    student_sourced_id: str | None
    reason: str | None
    # (field, old value, new value); old is the SIS's (drift) or the last accepted payload's.
    changes: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain values, changes as a list of {field, old, new}."""
        return {"grading_period": self.grading_period, "action": self.action,
                "entity": self.entity, "sourced_id": self.sourced_id,
                "line_item_sourced_id": self.line_item_sourced_id,
                "class_sourced_id": self.class_sourced_id,
                "student_sourced_id": self.student_sourced_id, "reason": self.reason,
                "changes": [{"field": f, "old": old, "new": new}
                            for f, old, new in self.changes]}


def _text(value: Any) -> str | None:
    """A record's value as shown: references by sourcedId, numbers and text as they are."""
    if value is None:
        return None
    if isinstance(value, dict) and "sourcedId" in value:
        return str(value["sourcedId"])
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def record_changes(old: dict[str, Any], new: dict[str, Any]
                   ) -> list[tuple[str, str | None, str | None]]:
    """(field, old, new) for every field whose shown value differs, in field order."""
    names = [*new, *(name for name in old if name not in new)]
    found = []
    for name in names:
        if name in _NOT_COMPARED:
            continue
        before, after = _text(old.get(name)), _text(new.get(name))
        if before != after:
            found.append((name, before, after))
    return found


# The payload the SIS last accepted of each object: the kept plan row with the ledger's hash.
_LAST_ACCEPTED_SQL = """
SELECT w.entity, w.sourced_id, arg_max(p.payload, p.planned_at) AS payload
FROM wanted w
JOIN passback.sync_ledger l
  ON l.district = $district AND l.entity = w.entity AND l.sourced_id = w.sourced_id
JOIN passback.sync_plan p
  ON p.district = l.district AND p.entity = l.entity AND p.sourced_id = l.sourced_id
 AND p.payload_hash = l.payload_hash AND p.payload IS NOT NULL
WHERE l.first_sent_at IS NOT NULL
GROUP BY w.entity, w.sourced_id
"""
# Who an object concerns, for the actions that carry no record (deletes, kept, refused...).
_PEOPLE_SQL = """
SELECT 'results' AS entity, r.sourced_id, r.class_sourced_id, r.student_sourced_id
FROM passback.results r JOIN wanted w ON w.entity = 'results' AND w.sourced_id = r.sourced_id
WHERE r.district = $district
UNION ALL
SELECT 'line_items', li.sourced_id, li.class_sourced_id, NULL
FROM passback.line_items li
JOIN wanted w ON w.entity = 'line_items' AND w.sourced_id = li.sourced_id
WHERE li.district = $district
"""


def _keyed(conn: duckdb.DuckDBPyConnection, sql: str, district: str,
           actions: list[Action]) -> dict[tuple[str, str], tuple[Any, ...]]:
    if not actions:
        return {}
    wanted = pa.table({"entity": [a.entity for a in actions],
                       "sourced_id": [a.sourced_id for a in actions]})
    conn.register("wanted", wanted)
    try:
        rows = conn.execute(sql, {"district": district}).fetchall()
    finally:
        conn.unregister("wanted")
    return {(row[0], row[1]): tuple(row[2:]) for row in rows}


def plan_changes(conn: duckdb.DuckDBPyConnection, plan: SyncPlan) -> list[PlannedChange]:
    """What the plan would do, object by object, with old -> new values where they are known."""
    shown = list(plan.select(tuple(a for a in ACTIONS if a != "unchanged")))
    needs_old = [a for a in shown if not a.changes and a.body is not None
                 and a.action in ("update", "restore", "overwrite")]
    accepted = _keyed(conn, _LAST_ACCEPTED_SQL, plan.district, needs_old)
    who = _keyed(conn, _PEOPLE_SQL, plan.district, [a for a in shown if a.body is None])
    found = []
    for action in shown:
        record = action.record
        class_id, student_id = people(action.entity, record) if record is not None \
            else who.get((action.entity, action.sourced_id), (None, None))
        changes = list(action.changes)
        old = accepted.get((action.entity, action.sourced_id))
        if not changes and old is not None and old[0] and record is not None:
            changes = record_changes(json.loads(old[0]), record)
        found.append(PlannedChange(plan.grading_period_sourced_id, action.action, action.entity,
                                   action.sourced_id, action.line_item_sourced_id, class_id,
                                   student_id, action.reason, changes))
    return found


def district_grading_periods(conn: duckdb.DuckDBPyConnection, district: str) -> list[str]:
    """Grading periods of a district with accepted rows or ledger rows."""
    rows = conn.execute("""
        SELECT grading_period_sourced_id FROM passback.line_items WHERE district = $d
        UNION SELECT grading_period_sourced_id FROM passback.results WHERE district = $d
        UNION SELECT grading_period_sourced_id FROM passback.sync_ledger
              WHERE district = $d AND grading_period_sourced_id IS NOT NULL
        ORDER BY 1""", {"d": district}).fetchall()
    return [row[0] for row in rows]


def resolve_grading_period(conn: duckdb.DuckDBPyConnection, district: str, name: str) -> str:
    """A grading period sourcedId from a sourcedId or a partition key; a clear error naming
    the district's grading periods when it is neither."""
    known = district_grading_periods(conn, district)
    if name in known:
        return name
    rows = conn.execute(
        "SELECT DISTINCT grading_period_sourced_id FROM passback.grading_period_partitions "
        "WHERE district = ? AND (partition_key = ? OR grading_period_sourced_id = ?) "
        "ORDER BY 1", [district, name, name]).fetchall()
    if len(rows) == 1:
        return rows[0][0]
    if len(rows) > 1:
        raise ValueError(f"grading period {name!r} of district {district} names "
                         f"{len(rows)} grading periods: {', '.join(r[0] for r in rows)}")
    raise ValueError(f"district {district} has no grading period {name!r} (by sourcedId or "
                     f"partition key); with accepted or ledger rows: "
                     f"{', '.join(known) or 'none'}")


HISTORY_COLUMNS = ("requested_at", "run_id", "action", "entity", "sourced_id",
                   "line_item_sourced_id", "class_sourced_id", "student_sourced_id",
                   "http_status", "state", "attempts", "description", "payload_hash",
                   "grading_period_sourced_id", "answered_at")
# Class and student filled in where the event itself could not name them (a 1.1 result names
# no class, a DELETE has no record): from the accepted rows and the district's other events.
_HISTORY_SQL = """
WITH line_item_class AS (
    SELECT sourced_id, any_value(class_sourced_id) AS class_sourced_id FROM (
        SELECT sourced_id, class_sourced_id FROM passback.line_items WHERE district = $district
        UNION ALL
        SELECT sourced_id, class_sourced_id FROM passback.sync_events
        WHERE district = $district AND entity = 'line_items' AND class_sourced_id IS NOT NULL)
    GROUP BY sourced_id),
result_student AS (
    SELECT sourced_id, any_value(student_sourced_id) AS student_sourced_id,
           any_value(class_sourced_id) AS class_sourced_id FROM (
        SELECT sourced_id, student_sourced_id, class_sourced_id FROM passback.results
        WHERE district = $district
        UNION ALL
        SELECT sourced_id, student_sourced_id, class_sourced_id FROM passback.sync_events
        WHERE district = $district AND entity = 'results' AND student_sourced_id IS NOT NULL)
    GROUP BY sourced_id),
events AS (
    SELECT e.requested_at, e.run_id, e.seq, e.action, e.entity, e.sourced_id,
           e.line_item_sourced_id,
           coalesce(e.class_sourced_id, r.class_sourced_id, c.class_sourced_id)
               AS class_sourced_id,
           coalesce(e.student_sourced_id, r.student_sourced_id) AS student_sourced_id,
           e.http_status, e.state, e.attempts, e.description, e.payload_hash,
           e.grading_period_sourced_id, e.answered_at
    FROM passback.sync_events e
    LEFT JOIN result_student r ON e.entity = 'results' AND r.sourced_id = e.sourced_id
    LEFT JOIN line_item_class c ON c.sourced_id = CASE WHEN e.entity = 'line_items'
                                                  THEN e.sourced_id
                                                  ELSE e.line_item_sourced_id END
    WHERE e.district = $district)
SELECT {columns} FROM events
WHERE {where}
ORDER BY requested_at DESC, run_id DESC, seq DESC
{limit}
"""


def assignment_line_items(conn: duckdb.DuckDBPyConnection, district: str,
                          assignment: str) -> list[str]:
    """Line item sourcedIds an `--assignment` names: itself, or the Otus assignment's."""
    rows = conn.execute("SELECT DISTINCT sourced_id FROM passback.line_items "
                        "WHERE district = ? AND assignment_id = ?", [district, assignment]
                        ).fetchall()
    return sorted({assignment, *(row[0] for row in rows)})


def sent_history(conn: duckdb.DuckDBPyConnection, district: str, *, student: str | None = None,
                 line_items: list[str] | None = None, class_sourced_id: str | None = None,
                 since: date | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """The district's write requests and the SIS's answers, newest first, filtered by
    student, line items (and their results), class, and first day."""
    where, params = ["TRUE"], {"district": district}
    if student is not None:
        where.append("student_sourced_id = $student")
        params["student"] = student
    if line_items is not None:
        where.append("((entity = 'line_items' AND sourced_id IN (SELECT unnest($items))) OR "
                     "line_item_sourced_id IN (SELECT unnest($items)))")
        params["items"] = line_items
    if class_sourced_id is not None:
        where.append("class_sourced_id = $class")
        params["class"] = class_sourced_id
    if since is not None:
        where.append("requested_at >= $since::TIMESTAMPTZ")
        params["since"] = since.isoformat()
    sql = _HISTORY_SQL.format(columns=", ".join(HISTORY_COLUMNS), where=" AND ".join(where),
                              limit=f"LIMIT {int(limit)}" if limit else "")
    cursor = conn.execute(sql, params)
    return [dict(zip(HISTORY_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
