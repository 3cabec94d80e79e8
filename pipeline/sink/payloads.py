"""OneRoster PUT bodies for line items and results, shaped for the district's version.

The bodies follow the spec documents in ../shared/oneroster-spec exactly:
- 1.1 (`LineItem.Type`, `Result.Type`): no `school` on a line item, no `class` on a result;
  GUIDRefs carry a free `type`, for which we send the 1.2 names (`academicSession`, `user`).
- 1.2 (`LineItemDType`, `ResultDType`): a line item requires `school` and `category`; a
  result may name its `class`. Neither version gets missing / late / excluded flags (seed 000).
A reference's `href` is the rostering or gradebook URL of the referenced object.

A body's hash leaves out `dateLastModified` (a send time, not content), so the ledger can
tell "the SIS already has exactly this" from "this changed".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.config import DistrictConfig

JSON = dict[str, Any]
LINE_ITEMS = "line_items"
RESULTS = "results"
# The key the client wraps each record in (`{"lineItem": {...}}`), per entity.
RECORD_KEYS = {LINE_ITEMS: "lineItem", RESULTS: "result"}
# Noon local time, written in UTC: the same calendar date whether the SIS reads the date as
# written or converts to the district's zone (for every zone within UTC-11..UTC+11).
_LOCAL_NOON = time(12, 0)


def utc_stamp(moment: datetime) -> str:
    """An ISO 8601 UTC timestamp with milliseconds and `Z`, as OneRoster wants dateTimes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def payload_hash(record: JSON) -> str:
    """A stable digest of a record's content (every field but `dateLastModified`)."""
    content = {key: value for key, value in record.items() if key != "dateLastModified"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class PayloadBuilder:
    """Builds one district's line-item and result records for its OneRoster version."""

    version: str
    rostering_base: str
    gradebook_base: str
    zone: ZoneInfo
    modified: str  # the dateLastModified every record of this run carries

    @classmethod
    def for_district(cls, config: DistrictConfig, now: datetime | None = None) -> PayloadBuilder:
        """The builder for a district's configuration, stamping records with `now`."""
        return cls(config.sis.oneroster_version, config.sis.rostering_base,
                   config.sis.gradebook_base, config.zone, utc_stamp(now or datetime.now(UTC)))

    @property
    def v1p2(self) -> bool:
        """Whether the district speaks OneRoster 1.2."""
        return self.version == "1.2"

    def ref(self, kind: str, collection: str, sourced_id: str, gradebook: bool = False) -> JSON:
        """A GUIDRef whose href is the referenced object's URL."""
        base = self.gradebook_base if gradebook else self.rostering_base
        return {"href": f"{base}/{collection}/{sourced_id}", "sourcedId": sourced_id,
                "type": kind}

    def local_date_time(self, day: date | str) -> str:
        """A calendar date as the dateTime OneRoster line items carry (see `_LOCAL_NOON`)."""
        day = date.fromisoformat(day) if isinstance(day, str) else day
        return utc_stamp(datetime.combine(day, _LOCAL_NOON, tzinfo=self.zone))

    def line_item(self, row: JSON) -> JSON:
        """The lineItem record for a `passback.line_items` row."""
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
        record["class"] = self.ref("class", "classes", row["class_sourced_id"])
        if self.v1p2 and row.get("school_sourced_id"):
            record["school"] = self.ref("org", "orgs", row["school_sourced_id"])
        record["category"] = self.ref("category", "categories", row["category_sourced_id"],
                                      gradebook=True)
        if row.get("grading_period_sourced_id"):
            record["gradingPeriod"] = self.ref("academicSession", "academicSessions",
                                               row["grading_period_sourced_id"])
        minimum = row.get("result_value_min")
        record["resultValueMin"] = float(minimum) if minimum is not None else 0.0
        record["resultValueMax"] = float(row["result_value_max"])
        return record

    def result(self, row: JSON) -> JSON:
        """The result record for a `passback.results` row (a score, `fully graded`)."""
        record: JSON = {
            "sourcedId": row["sourced_id"],
            "status": row.get("status") or "active",
            "dateLastModified": self.modified,
            "lineItem": self.ref("lineItem", "lineItems", row["line_item_sourced_id"],
                                 gradebook=True),
            "student": self.ref("user", "users", row["student_sourced_id"]),
        }
        if self.v1p2 and row.get("class_sourced_id"):
            record["class"] = self.ref("class", "classes", row["class_sourced_id"])
        record["scoreStatus"] = row.get("score_status") or "fully graded"
        record["score"] = float(row["score"])
        score_date = row["score_date"]
        record["scoreDate"] = score_date if isinstance(score_date, str) else score_date.isoformat()
        return record

    def record(self, entity: str, row: JSON) -> JSON:
        """The record of either entity."""
        return self.line_item(row) if entity == LINE_ITEMS else self.result(row)


def wrap(entity: str, record: JSON) -> JSON:
    """The PUT body: the record inside its single-record key."""
    return {RECORD_KEYS[entity]: record}
