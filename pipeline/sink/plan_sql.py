"""The sync plan as SQL: every accepted row of a partition built, hashed, compared with the
ledger and with what the SIS held when last read, and written to a plan table in one
`INSERT ... SELECT` per entity (see plan.py for what each action means).

No row becomes a Python object: DuckDB builds each record as JSON text
(`pipeline.sink.payloads.record_sql`), hashes it, decides its action and writes it with its
reason and body. `unchanged` rows are filtered out before the write; the
caller counts them as the partition's rows less the rows written. Results are planned after
line items and read their line item's action from the rows just written (a result under a
refused line item is `blocked`; a refused result whose line item is written again is retried).
"""

from __future__ import annotations

from pipeline.sink.payloads import (
    HASH_PREFIX,
    LINE_ITEMS,
    RESULTS,
    V2_PREFIX,
    hash_sql,
    problem_sql,
    record_sql,
    sql_text,
)

# restore: the ledger says the SIS accepted it, the SIS (read after that) does not hold it;
# overwrite: the SIS holds other values than Passback last wrote (`sis_edits: overwrite`);
# kept: the same, left as the SIS has it (`sis_edits: keep`).
PUTS = ("create", "update", "restore", "overwrite")
WRITES = (*PUTS, "delete")
ACTIONS = ("create", "update", "restore", "overwrite", "delete", "unchanged", "kept",
           "refused", "blocked", "invalid", "stopped", "frozen")
# Line items the SIS holds as planned before anything is sent (their results may go at once).
HELD = ("unchanged", "kept")
# The order a plan's rows are sent (and listed) in: line items by class and sourcedId, then
# results by class, line item and sourcedId (a bulk body holds one class's records), then
# the removals (numbered by `seq`: results first). Sorted when
# the plan is read, not when it is written: a nightly plan writes few of the rows it plans.
SEND_ORDER = ("seq IS NOT NULL, seq, entity = 'results', class_sourced_id NULLS FIRST, "
              "line_item_sourced_id NULLS FIRST, sourced_id")
# The plan table's rows come from here (the two plan tables share these columns).
CHANGE_TYPE = "STRUCT(field VARCHAR, sis VARCHAR, planned VARCHAR)[]"
FROZEN_REASON = "the grading period is closed"
# A row of a plan table with the run's columns, bound once per statement.
_RUN_COLUMNS = """$district AS district, $grading_period AS grading_period_sourced_id,
       $run_id AS run_id, $planned_at AS planned_at, $dry_run AS dry_run"""


def _names(values: tuple[str, ...]) -> str:
    return ", ".join(sql_text(v) for v in values)


# What the SIS's gradebook, read (`passback.sis_reads`: $last_read, when the entity's last
# read started, bound by the caller) after the ledger's last write of the object, says of it;
# NULL when there is nothing to reconcile (held as sent, or not read since our write):
# `missing` (the read did not find it), `edited` (it differs, and the SIS changed it after our
# last write), `resent` (it differs, a difference was recorded before in passback.sync_drift
# and Passback wrote it again since: the SIS stores it its own way), `lost` (it differs,
# unchanged in the SIS since our write: the write did not hold). `sis_changes`: the fields
# whose values in the SIS differ from this row's (NULL if none).
_RECONCILE_SQL = """
       CASE WHEN NOT coalesce(l.last_sent_at < $last_read, FALSE) THEN NULL
            WHEN s.sourced_id IS NULL THEN 'missing'
            WHEN NOT ({differs}) THEN NULL
            WHEN s.date_last_modified > l.last_sent_at THEN 'edited'
            WHEN l.last_sent_at > d.drift_seen THEN 'resent'
            ELSE 'lost' END AS sis_state,
       CASE WHEN s.sourced_id IS NOT NULL AND ({differs})
            THEN list_filter([{fields}], lambda x: x IS NOT NULL) END AS sis_changes"""
# The SIS's copy of each object is found under the SIS's sourcedId where it allocated its own.
# When each open difference was first seen, per object (a handful of rows, not millions).
_SIS_JOIN = """
LEFT JOIN sis.{entity} s
  ON s.district = $district AND s.sourced_id = coalesce(l.sis_sourced_id, a.sourced_id)
LEFT JOIN (SELECT sourced_id, max(first_seen_at) AS drift_seen FROM passback.sync_drift
           WHERE district = $district AND entity = '{entity}' AND resolved_at IS NULL
           GROUP BY sourced_id) d ON d.sourced_id = a.sourced_id"""
# The ledger alone (for measuring what comparing with the SIS costs).
_LEDGER_ONLY_SQL = f"""
       NULL AS sis_state, NULL::{CHANGE_TYPE} AS sis_changes"""


def _field(name: str, planned: str, held: str) -> str:
    """One compared field: a (field, in the SIS, planned) struct where they differ, else NULL."""
    return (f"CASE WHEN ({planned}) IS DISTINCT FROM ({held}) THEN {{'field': '{name}', "
            f"'sis': CAST(({held}) AS VARCHAR), 'planned': CAST(({planned}) AS VARCHAR)}} END")


# What the SIS stores of each field Passback writes, as `sis.*` flattens it (dates by their
# calendar day: line items are written at local noon, whose UTC date is the local one). A
# result's line item is the SIS's sourcedId of it where the SIS allocated its own.
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
        ("lineItem", "coalesce(lil.sis_sourced_id, a.line_item_sourced_id)",
         "s.line_item_sourced_id"),
        ("student", "a.student_sourced_id", "s.student_sourced_id"),
    ],
}
# Line items whose SIS sourcedId is not Passback's (few, or none: most SISes take ours).
_SIS_LINE_ITEMS = """
LEFT JOIN (SELECT sourced_id, sis_sourced_id FROM passback.sync_ledger
           WHERE district = $district AND entity = 'line_items' AND sis_sourced_id IS NOT NULL
          ) lil ON lil.sourced_id = {line_item}"""
# A result's line item as this plan has it: its row in the plan table (written just before),
# `unchanged` when the partition accepts it and the plan wrote no row; results under a line
# item the partition does not accept find none (NULL). A few thousand rows: joined as the
# small side, never built from the results.
_LINE_ITEM_ACTIONS = """
line_item_actions AS (
    SELECT li.sourced_id, coalesce(pla.action, 'unchanged') AS action
    FROM (SELECT DISTINCT sourced_id FROM passback.line_items
          WHERE district = $district AND grading_period_sourced_id = $grading_period) li
    LEFT JOIN (SELECT sourced_id, action FROM {target}
               WHERE district = $district AND grading_period_sourced_id = $grading_period
                 AND run_id = $run_id AND entity = 'line_items') pla
      ON pla.sourced_id = li.sourced_id),"""
_LINE_ITEM_JOIN = """
LEFT JOIN line_item_actions lia ON lia.sourced_id = a.line_item_sourced_id"""


def _reconcile_columns(entity: str, reconcile: bool) -> tuple[str, str]:
    """(the reconciliation columns, the joins they need)."""
    if not reconcile:
        return _LEDGER_ONLY_SQL, ""
    compared = _COMPARED[entity]
    fields = ", ".join(_field(*one) for one in compared)
    differs = " OR ".join(f"({planned}) IS DISTINCT FROM ({held})" for _, planned, held in compared)
    return (_RECONCILE_SQL.format(entity=entity, fields=fields, differs=differs),
            _SIS_JOIN.format(entity=entity))


def _decision(entity: str, closed: bool, keep_sis_edits: bool) -> tuple[str, str]:
    """(pre_action, pre_reason): the action before the spec check, and why."""
    closed_sql = "TRUE" if closed else "FALSE"
    edited = "'kept'" if keep_sis_edits else "'overwrite'"
    edited_reason = ("'edited in the SIS after Passback''s write (' || fields || '); "
                     + ("kept'" if keep_sis_edits else "overwritten'"))
    blocked = (f"WHEN line_item_action IN ('refused', 'invalid') AND NOT {closed_sql} "
               "THEN {}" if entity == RESULTS else "")
    retry = f"coalesce(line_item_action IN ({_names(PUTS)}), FALSE)" \
        if entity == RESULTS else "FALSE"
    sent = "same AND ledger_state = 'sent'"
    action = f"""CASE {blocked.format("'blocked'")}
            WHEN {sent} AND sis_now IS NULL THEN 'unchanged'
            WHEN {sent} THEN CASE sis_now WHEN 'missing' THEN 'restore' WHEN 'resent' THEN 'kept'
                                          WHEN 'lost' THEN 'restore' ELSE {edited} END
            WHEN {closed_sql} THEN 'frozen'
            WHEN same AND ledger_state = 'rejected' AND NOT {retry} THEN 'refused'
            WHEN ledger_sent THEN 'update' ELSE 'create' END"""
    predates = (f"NOT (starts_with(held, '{HASH_PREFIX}') OR starts_with(held, '{V2_PREFIX}'))")
    reason = f"""CASE {blocked.format("'its line item is not in the SIS'")}
            WHEN {sent} AND sis_now IS NULL THEN NULL
            WHEN {sent} THEN CASE sis_now
                WHEN 'missing' THEN 'the SIS no longer holds it, though it accepted it'
                WHEN 'resent' THEN 'the SIS stores ' || fields || ' otherwise than sent, even '
                                   || 'after sending it again; not sent again until the value '
                                   || 'changes'
                WHEN 'lost' THEN 'the SIS holds older values (' || fields || ') than it accepted'
                ELSE {edited_reason} END
            WHEN {closed_sql} THEN {sql_text(FROZEN_REASON)}
            WHEN same AND ledger_state = 'rejected' AND NOT {retry}
                THEN 'the SIS refused this exact payload'
            WHEN same THEN 'refused before; its line item is written again'
            WHEN held IS NOT NULL AND {predates}
                THEN 'the ledger''s hash predates base-URL-free hashes and differs from this '
                     || 'payload''s with today''s hrefs'
            END"""
    return action, reason


def plan_insert_sql(entity: str, *, target: str, version: str, zone: str, modified: str,
                    closed: bool, keep_sis_edits: bool, reconcile: bool = True) -> str:
    """The statement that writes one entity's plan rows (all but `unchanged`) to `target`.

    Parameters: $district, $grading_period, $run_id, $planned_at, $dry_run and $last_read
    (when the last read of the entity from the SIS started; NULL: never). The rows are not
    sorted here: their send order is their keys' (`SEND_ORDER`). The relation `plan_legacy`
    (entity, sourced_id, old_hash, new_hash) names the ledger rows whose older-release hash
    is this payload's (see plan.py)."""
    record = record_sql(entity, version, zone, modified)
    columns, sis_join = _reconcile_columns(entity, reconcile)
    results = entity == RESULTS
    line_item = "" if results else ", NULL::VARCHAR AS line_item_sourced_id"
    actions = _LINE_ITEM_ACTIONS.format(target=target) if results else ""
    joins = (_SIS_LINE_ITEMS.format(line_item="a.line_item_sourced_id")
             + _LINE_ITEM_JOIN) if results else ""
    line_item_action = "lia.action" if results else "NULL::VARCHAR"
    action, reason = _decision(entity, closed, keep_sis_edits)
    puts = _names(PUTS)
    held = f"coalesce(line_item_action IN ({_names(HELD)}), FALSE)" if results else "NULL"
    return f"""
INSERT INTO {target} BY NAME
WITH {actions}
ordered AS (
    SELECT * FROM passback.{entity}
    WHERE district = $district AND grading_period_sourced_id = $grading_period),
compared AS (
    SELECT a.*{line_item}, {problem_sql(entity, version)} AS problem,
           {hash_sql(entity, version, zone)} AS digest,
           l.payload_hash AS held, l.state AS ledger_state,
           coalesce(l.first_sent_at IS NOT NULL AND l.state <> 'deleted', FALSE) AS ledger_sent,
           l.sis_sourced_id, {"lil.sis_sourced_id" if results else "NULL::VARCHAR"}
               AS sis_line_item_sourced_id,
           m.old_hash AS legacy_hash, {line_item_action} AS line_item_action,{columns}
    FROM ordered a
    LEFT JOIN passback.sync_ledger l
      ON l.district = $district AND l.entity = '{entity}' AND l.sourced_id = a.sourced_id
    {joins}{sis_join}
    LEFT JOIN plan_legacy m ON m.entity = '{entity}' AND m.sourced_id = a.sourced_id),
decided AS (
    SELECT *, ledger_state IS NOT NULL AND (held = digest OR legacy_hash IS NOT NULL) AS same,
           {"NULL" if closed else "sis_state"} AS sis_now,
           coalesce(array_to_string(list_transform(sis_changes, lambda x: x.field), ', '), '')
               AS fields
    FROM compared),
planned AS (
    SELECT *, {action} AS pre_action, {reason} AS pre_reason FROM decided),
checked AS (
    SELECT *, pre_action IN ({puts}) AND problem IS NOT NULL AS broken FROM planned)
SELECT {_RUN_COLUMNS}, '{entity}' AS entity, sourced_id,
       CASE WHEN broken THEN 'invalid' ELSE pre_action END AS action,
       CASE WHEN broken THEN problem ELSE pre_reason END AS reason,
       CASE WHEN pre_action <> 'blocked' THEN digest END AS payload_hash,
       -- Built here only, so only for the rows sent.
       CASE WHEN pre_action IN ({puts}) AND NOT broken THEN {record} END AS payload,
       line_item_sourced_id, sis_sourced_id, sis_line_item_sourced_id, class_sourced_id,
       CASE WHEN pre_action <> 'blocked' THEN sis_changes END AS changes,
       {held} AS line_item_held
FROM checked a
WHERE pre_action <> 'unchanged'
"""


# What the SIS holds from this partition that the district no longer accepts anywhere:
# results before line items, so a deletion never leaves results under a missing line item.
# A record that moved to another grading period is still accepted (the other partition
# writes it, and deleting it here would race that write), hence the district-wide check; it
# looks up only the few rows this partition no longer accepts, never hashing every period's.
def _accepted(join: str, where: str) -> str:
    """The district's accepted rows of both entities, as (entity, sourced_id)."""
    return " UNION ALL".join(f"""
    SELECT '{entity}' AS entity, x.sourced_id FROM passback.{entity} x
    {join.format(entity=entity)}
    WHERE x.district = $district{where}""" for entity in (RESULTS, LINE_ITEMS))


def removals_insert_sql(target: str) -> str:
    """The statement that writes the partition's removals to `target` (parameters as
    `plan_insert_sql`'s, and $action, $reason), each with its place among them (`seq`)."""
    here = _accepted("", " AND x.grading_period_sourced_id = $grading_period")
    elsewhere = _accepted("SEMI JOIN candidates c ON c.entity = '{entity}' "
                          "AND c.sourced_id = x.sourced_id", "")
    return f"""
INSERT INTO {target} BY NAME
WITH held AS (
    SELECT entity, sourced_id, line_item_sourced_id, payload_hash, sis_sourced_id
    FROM passback.sync_ledger
    WHERE district = $district AND grading_period_sourced_id = $grading_period
      AND first_sent_at IS NOT NULL AND state <> 'deleted'),
candidates AS (
    SELECT h.* FROM held h ANTI JOIN ({here}) a
    ON a.entity = h.entity AND a.sourced_id = h.sourced_id),
gone AS (
    SELECT c.* FROM candidates c ANTI JOIN ({elsewhere}) e
    ON e.entity = c.entity AND e.sourced_id = c.sourced_id)
SELECT {_RUN_COLUMNS}, l.entity, l.sourced_id, $action AS action, $reason AS reason,
       l.payload_hash, l.line_item_sourced_id, l.sis_sourced_id,
       lil.sis_sourced_id AS sis_line_item_sourced_id,
       row_number() OVER (ORDER BY l.entity = 'line_items', l.sourced_id) AS seq
FROM gone l
{_SIS_LINE_ITEMS.format(line_item="l.line_item_sourced_id")}
"""


# The partition's rows with a ledger hash from an older release: built in Python once each
# (`pipeline.sink.payloads.PayloadBuilder`) to tell whether that hash is this payload's.
def older_hashes_sql(entity: str, version: str, zone: str) -> str:
    """The partition's rows of `entity` whose ledger hash is not `v3:`, with that hash
    (`held`) and today's (`new_hash`)."""
    return f"""
SELECT a.* EXCLUDE (district, updated_at, as_of, computed_at), l.payload_hash AS held,
       {hash_sql(entity, version, zone)} AS new_hash
FROM passback.{entity} a
JOIN passback.sync_ledger l
  ON l.district = a.district AND l.entity = '{entity}' AND l.sourced_id = a.sourced_id
WHERE a.district = $district AND a.grading_period_sourced_id = $grading_period
  AND l.payload_hash IS NOT NULL AND NOT starts_with(l.payload_hash, '{HASH_PREFIX}')
"""
