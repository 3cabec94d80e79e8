"""`passback.sync_drift`: where the SIS holds other values than Passback last wrote.

A teacher may edit a grade in the SIS after Passback wrote it; a SIS may lose a write, or
store a value its own way. The plan finds each (the SIS, read after our write, holds other
values: actions `overwrite`, `kept` or `restore`, see plan.py) and this module keeps one row
per object and field: the value Passback
sent, the value in the SIS, when it was first and last seen, and what the district's
`sis_edits` setting did about it. A drift no longer seen is marked resolved, not deleted, so
"who changed what in the SIS, and when did we notice" stays answerable. Class, line item,
student and teacher come from the rules layer's rows, so the report can group by teacher.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from pipeline.sink.plan import SyncPlan
from pipeline.warehouse import transaction

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
# Edits in the SIS (overwrite, kept) and lost writes whose older values the SIS still holds
# (restore with changes): recorded alike, so a value the SIS keeps storing its own way is
# recognised after one re-send (plan.py, `resent_since_drift`) instead of sent every night.
DRIFT_ACTIONS = ("overwrite", "kept", "restore")

_BATCH = pa.schema([("entity", pa.string()), ("sourced_id", pa.string()),
                    ("field", pa.string()), ("value_sent", pa.string()),
                    ("value_in_sis", pa.string()), ("decision", pa.string())])
# New drift gets its first_seen; drift seen again keeps it (unless it had been resolved:
# then it is a new edit). Objects are found district-wide: a result's line item, class,
# student and teacher from passback.results / passback.line_items.
_UPSERT = """
INSERT INTO passback.sync_drift
SELECT $district, $grading_period, d.entity, d.sourced_id,
       coalesce(r.class_sourced_id, li.class_sourced_id),
       CASE WHEN d.entity = 'results' THEN r.line_item_sourced_id ELSE d.sourced_id END,
       r.student_sourced_id, li.teacher_user_id, d.field, d.value_sent, d.value_in_sis,
       d.decision, $now, $now, NULL, $run_id
FROM drift_batch d
LEFT JOIN passback.results r
  ON d.entity = 'results' AND r.district = $district AND r.sourced_id = d.sourced_id
LEFT JOIN passback.line_items li
  ON li.district = $district
 AND li.sourced_id = CASE WHEN d.entity = 'results' THEN r.line_item_sourced_id
                          ELSE d.sourced_id END
ON CONFLICT (district, entity, sourced_id, field) DO UPDATE SET
    grading_period_sourced_id = EXCLUDED.grading_period_sourced_id,
    value_sent = EXCLUDED.value_sent, value_in_sis = EXCLUDED.value_in_sis,
    decision = EXCLUDED.decision,
    first_seen_at = CASE WHEN resolved_at IS NULL THEN first_seen_at
                         ELSE EXCLUDED.first_seen_at END,
    last_seen_at = EXCLUDED.last_seen_at, resolved_at = NULL, run_id = EXCLUDED.run_id
"""
_RESOLVE = """
UPDATE passback.sync_drift SET resolved_at = $now
WHERE district = $district AND grading_period_sourced_id = $grading_period
  AND resolved_at IS NULL AND last_seen_at < $now
"""


def record_drift(connect: Connect, plan: SyncPlan, run_id: str) -> int:
    """Record this plan's drift (one row per object and field) and resolve what it no longer
    shows, in one transaction; return how many objects drifted. A closed grading period is
    not compared, so its drift is left as last seen."""
    if plan.closed:
        return 0
    params = {"district": plan.district, "grading_period": plan.grading_period_sourced_id,
              "now": datetime.now(UTC)}
    with connect() as conn, transaction(conn):
        # Read from the plan (a stored plan's rows on this connection): a few rows.
        drifted = [a for a in plan.select(DRIFT_ACTIONS, conn=conn) if a.changes]
        rows = [(a.entity, a.sourced_id, name, planned, held, a.action)
                for a in drifted for name, held, planned in a.changes]
        batch = pa.Table.from_pylist(
            [dict(zip(_BATCH.names, row, strict=True)) for row in rows], schema=_BATCH)
        if rows:
            conn.register("drift_batch", batch)
            conn.execute(_UPSERT, params | {"run_id": run_id})
            conn.unregister("drift_batch")
        conn.execute(_RESOLVE, params)
    return len(drifted)
