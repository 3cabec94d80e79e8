"""OneRoster PUT bodies for line items and results, shaped for the district's version.

The bodies follow the spec documents in ../shared/oneroster-spec exactly:
- 1.1 (`LineItem.Type`, `Result.Type`): no `school` on a line item, no `class` on a result;
  GUIDRefs carry a free `type`, for which we send the 1.2 names (`academicSession`, `user`).
- 1.2 (`LineItemDType`, `ResultDType`): a line item requires `school` and `category`; a
  result may name its `class`. Neither version gets missing / late / excluded flags (seed 000).
A reference's `href` is the rostering or gradebook URL of the referenced object; it is not
part of the record the sink plans and hashes (references there are a sourcedId and a type),
but added when the body is encoded for sending, from the district's base URL of that moment
(`pipeline.oneroster.references.Hrefs.link`, called by the writer).

A record's hash leaves out `dateLastModified` (a send time, not content) and every `href`
(where the SIS is reached, not what it stores), so the ledger can tell "the SIS already has
exactly this" from "this changed", and a district moved to a new base URL sends nothing.

The plan builds records and hashes in DuckDB (`record_sql`, `hash_sql`): the same record as
`PayloadBuilder` makes, as compact JSON text, and `v3:` + MD5 of the values it holds (not of
the text: a nightly plan hashes millions of records and builds only those it sends). The
builder stays for the bodies of tests and tools, and to recognise the hashes of older
releases, once per ledger row: `v2:` (sha256 of the sorted-key JSON in Python,
`v2_payload_hash`) and, before that, unprefixed hashes over the body with its hrefs
(`legacy_payload_hash`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.config import DistrictConfig
from pipeline.oneroster.references import Hrefs, is_reference, reference

JSON = dict[str, Any]
LINE_ITEMS = "line_items"
RESULTS = "results"
# The key the client wraps each record in (`{"lineItem": {...}}`), per entity.
RECORD_KEYS = {LINE_ITEMS: "lineItem", RESULTS: "result"}
# Noon local time, written in UTC: the same calendar date whether the SIS reads the date as
# written or converts to the district's zone (for every zone within UTC-11..UTC+11).
_LOCAL_NOON = time(12, 0)
# Today's hashes (computed in SQL); `v2:` ones are from the Python planner, unprefixed ones
# from before hashes left the base URL out (see the module doc).
HASH_PREFIX = "v3:"
V2_PREFIX = "v2:"


def utc_stamp(moment: datetime) -> str:
    """An ISO 8601 UTC timestamp with milliseconds and `Z`, as OneRoster wants dateTimes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def v2_payload_hash(record: JSON) -> str:
    """The hash ledgers held before `v3:`: a digest of what the SIS stores (every field but
    `dateLastModified`; references by sourcedId and type, their `href`s left out), over
    Python's sorted-key JSON. Only to recognise a ledger row written by an older release."""
    content = {key: _without_href(value) for key, value in record.items()
               if key != "dateLastModified"}
    return V2_PREFIX + _digest(content)


payload_hash = v2_payload_hash  # the name older callers know


def legacy_payload_hash(body_record: JSON) -> str:
    """The hash ledgers held before `v2:` (over the record as sent, hrefs included): only to
    recognise a ledger row written by an older release."""
    return _digest({key: value for key, value in body_record.items()
                    if key != "dateLastModified"})


def is_legacy_hash(digest: str) -> bool:
    """Whether a ledger hash predates `v2:` (it then covers the base URL of its time)."""
    return not digest.startswith((HASH_PREFIX, V2_PREFIX))


def _without_href(value: Any) -> Any:
    if is_reference(value) and "href" in value:
        return {key: item for key, item in value.items() if key != "href"}
    return value


def _digest(content: JSON) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class PayloadBuilder:
    """Builds one district's line-item and result records for its OneRoster version."""

    version: str
    hrefs: Hrefs  # only for the bodies as sent (`line_item`, `result`, `record`)
    zone: ZoneInfo
    modified: str  # the dateLastModified every record of this run carries

    @classmethod
    def for_district(cls, config: DistrictConfig, now: datetime | None = None) -> PayloadBuilder:
        """The builder for a district's configuration, stamping records with `now`."""
        return cls(config.sis.oneroster_version, Hrefs.for_sis(config.sis), config.zone,
                   utc_stamp(now or datetime.now(UTC)))

    @property
    def v1p2(self) -> bool:
        """Whether the district speaks OneRoster 1.2."""
        return self.version == "1.2"

    @staticmethod
    def ref(kind: str, sourced_id: str) -> JSON:
        """A GUIDRef by identity (its href is added when the body is sent)."""
        return reference(kind, sourced_id)

    def local_date_time(self, day: date | str) -> str:
        """A calendar date as the dateTime OneRoster line items carry (see `_LOCAL_NOON`)."""
        day = date.fromisoformat(day) if isinstance(day, str) else day
        return utc_stamp(datetime.combine(day, _LOCAL_NOON, tzinfo=self.zone))

    def line_item(self, row: JSON) -> JSON:
        """The lineItem body record for a `passback.line_items` row, as sent (with hrefs)."""
        return self.hrefs.link(self.line_item_content(row))

    def result(self, row: JSON) -> JSON:
        """The result body record for a `passback.results` row, as sent (with hrefs)."""
        return self.hrefs.link(self.result_content(row))

    def record(self, entity: str, row: JSON) -> JSON:
        """The body record of either entity, as sent (with hrefs)."""
        return self.hrefs.link(self.content(entity, row))

    def content(self, entity: str, row: JSON) -> JSON:
        """The record of either entity as the SIS stores it: references without hrefs."""
        return self.line_item_content(row) if entity == LINE_ITEMS else self.result_content(row)

    def line_item_content(self, row: JSON) -> JSON:
        """The lineItem record for a `passback.line_items` row (references without hrefs)."""
        record: JSON = {
            "sourcedId": row["sourced_id"],
            "status": row.get("status") or "active",
            "dateLastModified": self.modified,
            "title": row["title"],
        }
        if row.get("description"):
            record["description"] = row["description"]
        record["assignDate"] = self.local_date_time(row["assign_date"])
        record["dueDate"] = self.local_date_time(row["due_date"])
        record["class"] = self.ref("class", row["class_sourced_id"])
        if self.v1p2 and row.get("school_sourced_id"):
            record["school"] = self.ref("org", row["school_sourced_id"])
        record["category"] = self.ref("category", row["category_sourced_id"])
        if row.get("grading_period_sourced_id"):
            record["gradingPeriod"] = self.ref("academicSession",
                                               row["grading_period_sourced_id"])
        minimum = row.get("result_value_min")
        record["resultValueMin"] = float(minimum) if minimum is not None else 0.0
        record["resultValueMax"] = float(row["result_value_max"])
        return record

    def result_content(self, row: JSON) -> JSON:
        """The result record for a `passback.results` row (a score, `fully graded`;
        references without hrefs)."""
        record: JSON = {
            "sourcedId": row["sourced_id"],
            "status": row.get("status") or "active",
            "dateLastModified": self.modified,
            "lineItem": self.ref("lineItem", row["line_item_sourced_id"]),
            "student": self.ref("user", row["student_sourced_id"]),
        }
        if self.v1p2 and row.get("class_sourced_id"):
            record["class"] = self.ref("class", row["class_sourced_id"])
        record["scoreStatus"] = row.get("score_status") or "fully graded"
        record["score"] = float(row["score"])
        score_date = row["score_date"]
        record["scoreDate"] = score_date if isinstance(score_date, str) else score_date.isoformat()
        return record


def wrap(entity: str, record: JSON) -> JSON:
    """The PUT body: the record inside its single-record key."""
    return {RECORD_KEYS[entity]: record}


# -- the same records in SQL -------------------------------------------------------------------
# Built as text, key by key in the builder's order, so a body read back (`json.loads`) equals
# the builder's record: DuckDB's `to_json` writes a DOUBLE so that it reads back as the same
# float, and strings escaped as JSON. Optional keys are left out where the builder leaves them.
_STATUSES = ("active", "tobedeleted")
# scoreStatus values the spec documents allow (1.1 keeps its typo); 1.2 also allows `ext:...`.
_SCORE_STATUSES = {
    "1.1": ("exempt", "fully graded", "not submmitted", "partially graded", "submitted",
            "not submitted"),
    "1.2": ("exempt", "fully graded", "not submitted", "partially graded", "submitted"),
}
_EXTENSION = r"(ext:)[a-zA-Z0-9\.\-_]+"  # the 1.2 pattern (unanchored, as JSON Schema reads it)


def sql_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _ref_sql(kind: str, column: str) -> str:
    return f"""'{{"sourcedId":', to_json({column}), ',"type":"{kind}"}}'"""


def _optional_sql(key: str, kind: str, column: str) -> str:
    """A reference the builder writes only when the row names one (a truthy value)."""
    return (f"CASE WHEN coalesce({column}, '') <> '' THEN concat(',\"{key}\":', "
            f"{_ref_sql(kind, column)}) ELSE '' END")


def _noon_sql(column: str, zone: str) -> str:
    """`PayloadBuilder.local_date_time` in SQL: the day's local noon, written in UTC."""
    return (f"strftime(timezone('UTC', timezone({sql_text(zone)}, {column} + TIME '12:00:00')),"
            " '%Y-%m-%dT%H:%M:%S.000Z')")


def _list_sql(values: tuple[str, ...]) -> str:
    return ", ".join(sql_text(v) for v in values)


def record_sql(entity: str, version: str, zone: str, modified: str) -> str:
    """A SQL expression over a `passback.<entity>` row aliased `a` that makes the record
    `PayloadBuilder.content` makes, stamped `modified`, as compact JSON text (see above).
    One `concat` of its pieces: twice as fast as chaining `||`."""
    head = ["""'{"sourcedId":'""", "to_json(a.sourced_id)", """',"status":'""",
            "to_json(coalesce(nullif(a.status, ''), 'active'))",
            sql_text(f',"dateLastModified":"{modified}"')]
    if entity == LINE_ITEMS:
        tail = [
            """',"title":'""", "to_json(a.title)",
            """CASE WHEN coalesce(a.description, '') <> '' THEN concat(',"description":', """
            "to_json(a.description)) ELSE '' END",
            """',"assignDate":"'""", _noon_sql("a.assign_date", zone),
            """'","dueDate":"'""", _noon_sql("a.due_date", zone),
            """'","class":'""", _ref_sql("class", "a.class_sourced_id"),
            *([_optional_sql("school", "org", "a.school_sourced_id")] if version == "1.2"
              else []),
            """',"category":'""", _ref_sql("category", "a.category_sourced_id"),
            _optional_sql("gradingPeriod", "academicSession", "a.grading_period_sourced_id"),
            """',"resultValueMin":'""", "to_json(coalesce(a.result_value_min, 0.0)::DOUBLE)",
            """',"resultValueMax":'""", "to_json(a.result_value_max::DOUBLE)", "'}'"]
    else:
        tail = [
            """',"lineItem":'""", _ref_sql("lineItem", "a.line_item_sourced_id"),
            """',"student":'""", _ref_sql("user", "a.student_sourced_id"),
            *([_optional_sql("class", "class", "a.class_sourced_id")] if version == "1.2"
              else []),
            """',"scoreStatus":'""", "to_json(coalesce(nullif(a.score_status, ''), "
            "'fully graded'))",
            """',"score":'""", "to_json(a.score::DOUBLE)",
            """',"scoreDate":"'""", "CAST(a.score_date AS VARCHAR)", """'"}'"""]
    return f"concat({', '.join([*head, *tail])})"


def problem_sql(entity: str, version: str) -> str:
    """Why the record of a `passback.<entity>` row (aliased `a`) breaks the version's spec
    document, or NULL: the constraints a row of the rules layer can break (the others hold by
    the table's types and the builder's defaults), worded as `body_problem` words them."""
    record_key = RECORD_KEYS[entity]
    status = "coalesce(nullif(a.status, ''), 'active')"
    checks = []
    if entity == LINE_ITEMS and version == "1.2":
        checks.append(f"CASE WHEN coalesce(a.school_sourced_id, '') = '' THEN "
                      f"'{record_key}.school: ''school'' is a required property' END")
    if entity == RESULTS:
        score_status = "coalesce(nullif(a.score_status, ''), 'fully graded')"
        allowed = _SCORE_STATUSES[version]
        if version == "1.2":
            broken = (f"{score_status} NOT IN ({_list_sql(allowed)}) AND NOT "
                      f"regexp_matches({score_status}, {sql_text(_EXTENSION)})")
            words = sql_text("' is not valid under any of the given schemas")
        else:
            broken = f"{score_status} NOT IN ({_list_sql(allowed)})"
            words = sql_text(f"' is not one of {list(allowed)}")
        checks.append(f"CASE WHEN {broken} THEN 'result.scoreStatus: ''' || {score_status} "
                      f"|| {words} END")
    checks.append(f"CASE WHEN {status} NOT IN ({_list_sql(_STATUSES)}) THEN "
                  f"'{record_key}.status: ''' || {status} || "
                  f"{sql_text(chr(39) + ' is not one of ' + str(list(_STATUSES)))} END")
    return f"nullif(concat_ws('; ', {', '.join(checks)}), '')"


def _text_sql(expression: str) -> str:
    """A value as text for the hash: a DOUBLE as its shortest round-trip form, NULL as U+001E."""
    return f"coalesce(CAST({expression} AS VARCHAR), chr(30))"


def hash_sql(entity: str, version: str, zone: str) -> str:
    """Today's hash (`v3:`) of the record `record_sql` builds from a `passback.<entity>` row
    aliased `a`: the MD5 of the values the record holds, as text, in the record's order (a key
    the builder leaves out is NULL), after the entity and version, joined by U+001F. Every
    value that reaches the record is in it, nothing else (no `dateLastModified`, no href), so
    equal hashes are equal records; building it skips the JSON around the values, so a
    nightly plan of millions of unchanged rows builds no record at all. (Two versions of a
    record whose fields traded a U+001F between them would hash alike: control characters
    no gradebook holds.)

    MD5, not SHA-256: the hash tells "the SIS holds exactly this" from "this changed" for one
    record at a time, against no adversary, so 128 bits are plenty; DuckDB computes it in
    half the time, and it is the same in every DuckDB release (`hash()` is not promised to
    be)."""
    status = "coalesce(nullif(a.status, ''), 'active')"
    if entity == LINE_ITEMS:
        values = ["a.sourced_id", status, "a.title",
                  "CASE WHEN coalesce(a.description, '') <> '' THEN a.description END",
                  _noon_sql("a.assign_date", zone), _noon_sql("a.due_date", zone),
                  "a.class_sourced_id",
                  *(["nullif(a.school_sourced_id, '')"] if version == "1.2" else []),
                  "a.category_sourced_id", "nullif(a.grading_period_sourced_id, '')",
                  "to_json(coalesce(a.result_value_min, 0.0)::DOUBLE)",
                  "to_json(a.result_value_max::DOUBLE)"]
    else:
        values = ["a.sourced_id", status, "a.line_item_sourced_id", "a.student_sourced_id",
                  *(["nullif(a.class_sourced_id, '')"] if version == "1.2" else []),
                  "coalesce(nullif(a.score_status, ''), 'fully graded')",
                  "to_json(a.score::DOUBLE)", "a.score_date"]
    parts = [sql_text(f"{entity}/{version}"), *(_text_sql(v) for v in values)]
    return f"'{HASH_PREFIX}' || md5(concat_ws(chr(31), {', '.join(parts)}))"
