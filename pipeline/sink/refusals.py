"""Rejection rows that come from the SIS's answers, derived from the sync ledger.

Two rules the rule catalog cannot evaluate, because only the SIS knows (see
`checks.sis_rules`, which documents them beside the catalog):
- `sis_rejected`: the SIS refused this line item or result (its own `imsx_description`);
- `line_item_refused_by_sis`: a result that is not sent because the SIS refused its line item.

They are rebuilt from the ledger by every sync and every rules run of the partition (a rules
run replaces the partition's rejections), so they stay exactly as long as the ledger says the
SIS refuses the line item, and the quality report, which runs after the rules, lists them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from contextlib import AbstractContextManager

import duckdb

from pipeline.warehouse import transaction

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]

SIS_REJECTED = "sis_rejected"
LINE_ITEM_REFUSED_BY_SIS = "line_item_refused_by_sis"
SIS_RULES = (SIS_REJECTED, LINE_ITEM_REFUSED_BY_SIS)
# Teacher-facing templates; `{sis_reason}` is the SIS's own words (imsx_description).
SIS_REJECTED_MESSAGE = "{sis_reason}"
LINE_ITEM_REFUSED_MESSAGE = (
    "The score of student {student_sourced_id} on '{title}' (assignment {assignment_id}) is "
    "not passed back because the SIS refused the assessment itself: {sis_reason}")


def message_sql(template: str, columns: dict[str, str] | None = None) -> str:
    """A SQL expression that fills a `{name}` template from SQL expressions (by default the
    column of that name), as the catalog's messages are (`checks.catalog.render_messages`): a
    `[...]` part is left out where a value in it is missing, any other missing value reads
    "unknown"."""
    parts = []
    for text, optional in _parts(template):
        pieces = []
        for literal, name, _spec, _conv in string.Formatter().parse(text):
            if literal:
                pieces.append("'" + literal.replace("'", "''") + "'")
            if name:
                column = name if columns is None else columns[name]
                value = f"CAST({column} AS VARCHAR)"
                pieces.append(value if optional else f"coalesce({value}, 'unknown')")
        joined = " || ".join(pieces) or "''"
        parts.append(f"coalesce({joined}, '')" if optional else joined)
    return " || ".join(parts) or "''"


def _parts(template: str) -> list[tuple[str, bool]]:
    """(text, optional) parts of a template; `[...]` marks an optional part."""
    chunks = re.split(r"\[([^\[\]]*)\]", template)  # odd positions: inside brackets
    return [(text, i % 2 == 1) for i, text in enumerate(chunks) if text]


_REASON = "coalesce(l.last_error, 'refused by the SIS')"
_BLOCKED_MESSAGE = message_sql(LINE_ITEM_REFUSED_MESSAGE, {
    "student_sourced_id": "r.student_sourced_id", "title": "li.title",
    "assignment_id": "r.assignment_id", "sis_reason": _REASON})
# One row per object the SIS refused, with the SIS's own words, and one per result held back
# because the SIS refused its line item (the plan's `blocked`), naming that line item.
_REFUSALS_SQL = f"""
INSERT INTO passback.rejections
    (district, grading_period_sourced_id, entity, assignment_id, assessment_id,
     class_sourced_id, class_title, student_sourced_id, teacher_user_id, teacher_name, title,
     rule, severity, message, as_of, detected_at)
SELECT l.district, l.grading_period_sourced_id, 'line_item', li.assignment_id,
       li.assessment_id, li.class_sourced_id, NULL, NULL, li.teacher_user_id, NULL, li.title,
       '{SIS_REJECTED}', 'reject', {message_sql(SIS_REJECTED_MESSAGE, {"sis_reason": _REASON})},
       li.as_of, l.last_sent_at
FROM passback.sync_ledger l JOIN passback.line_items li
  ON li.district = l.district AND li.sourced_id = l.sourced_id
WHERE l.district = $district AND l.grading_period_sourced_id = $gp
  AND l.entity = 'line_items' AND l.state = 'rejected'
UNION ALL
SELECT l.district, l.grading_period_sourced_id, 'result', r.assignment_id, NULL,
       r.class_sourced_id, NULL, r.student_sourced_id, NULL, NULL, NULL,
       '{SIS_REJECTED}', 'reject', {message_sql(SIS_REJECTED_MESSAGE, {"sis_reason": _REASON})},
       r.as_of, l.last_sent_at
FROM passback.sync_ledger l JOIN passback.results r
  ON r.district = l.district AND r.sourced_id = l.sourced_id
WHERE l.district = $district AND l.grading_period_sourced_id = $gp
  AND l.entity = 'results' AND l.state = 'rejected'
UNION ALL
SELECT l.district, l.grading_period_sourced_id, 'result', r.assignment_id, li.assessment_id,
       r.class_sourced_id, NULL, r.student_sourced_id, li.teacher_user_id, NULL, li.title,
       '{LINE_ITEM_REFUSED_BY_SIS}', 'reject', {_BLOCKED_MESSAGE}, r.as_of, l.last_sent_at
FROM passback.sync_ledger l
JOIN passback.line_items li ON li.district = l.district AND li.sourced_id = l.sourced_id
JOIN passback.results r
  ON r.district = li.district AND r.line_item_sourced_id = li.sourced_id
WHERE l.district = $district AND l.grading_period_sourced_id = $gp
  AND l.entity = 'line_items' AND l.state = 'rejected'
"""
_RULES_IN = ", ".join(f"'{rule}'" for rule in SIS_RULES)


def refresh_sis_refusals(conn: duckdb.DuckDBPyConnection, district: str,
                         grading_period: str) -> dict[str, int]:
    """Replace the partition's SIS-derived rejection rows from the ledger, on `conn` (call it
    inside the caller's transaction); returns how many rows each rule has now."""
    params = {"district": district, "gp": grading_period}
    conn.execute("DELETE FROM passback.rejections WHERE district = $district AND "
                 f"grading_period_sourced_id = $gp AND rule IN ({_RULES_IN})", params)
    conn.execute(_REFUSALS_SQL, params)
    rows = conn.execute("SELECT rule, count(*) FROM passback.rejections WHERE district = "
                        f"$district AND grading_period_sourced_id = $gp AND rule IN ({_RULES_IN})"
                        " GROUP BY rule", params).fetchall()
    found = dict(rows)
    return {rule: int(found.get(rule, 0)) for rule in SIS_RULES}


def record_sis_refusals(connect: Connect, district: str, grading_period: str) -> dict[str, int]:
    """`refresh_sis_refusals` in a connection and transaction of its own."""
    with connect() as conn, transaction(conn):
        return refresh_sis_refusals(conn, district, grading_period)
