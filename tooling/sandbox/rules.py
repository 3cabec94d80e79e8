"""The rules a real SIS applies to gradebook writes, enforced by the sandbox.

Each check returns a sentence a person understands; a write that breaks any
rule is refused with all its reasons at once (422), the way Infinite Campus and
Skyward answer a vendor. Closed grading periods come from
``--closed-grading-periods``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

from tooling.sandbox.errors import ImsxError, bad_request, refused
from tooling.sandbox.profiles import SISProfile
from tooling.sandbox.roster import Roster
from tooling.sandbox.store import GradebookStore, Record


def calendar_date(value: object, field: str) -> date:
    """The calendar date a timestamp is written for (the SIS reads the date as written)."""
    text = str(value)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise bad_request(f"{field} {text!r} is not an ISO 8601 date-time") from None
    return parsed.date()


@dataclass
class GradebookRules:
    """The SIS-side checks for one sandbox (its roster, profile and closed periods)."""

    roster: Roster
    profile: SISProfile
    closed_periods: frozenset[str]
    store: GradebookStore

    def window_open(self, period_id: str) -> bool:
        """Whether a grading period's window accepts writes."""
        return period_id not in self.closed_periods

    def _period_label(self, period_id: str) -> str:
        title = self.roster.sessions.get(period_id, {}).get("title")
        return f"'{period_id}' ({title})" if title else f"'{period_id}'"

    def closed_window_reasons(self, line_item: Record) -> list[str]:
        """Why a line item sits in a closed grading window (empty when it does not)."""
        period = line_item.get("gradingPeriod")
        if period and period in self.closed_periods:
            return [f"grading period {self._period_label(period)} is closed: "
                    "the grading window accepts no assignments or scores"]
        if line_item.get("class") not in self.roster.classes:
            return []
        start = calendar_date(line_item.get("assignDate") or line_item.get("dueDate"),
                              "assignDate")
        end = calendar_date(line_item.get("dueDate") or line_item.get("assignDate"), "dueDate")
        for period_id in self.roster.grading_periods_for_class(line_item["class"]):
            if period_id not in self.closed_periods:
                continue
            row = self.roster.sessions[period_id]
            if start <= date.fromisoformat(str(row["endDate"])) and \
                    end >= date.fromisoformat(str(row["startDate"])):
                return [f"the span from assignDate {start} to dueDate {end} touches closed "
                        f"grading period {self._period_label(period_id)}"]
        return []

    def check_line_item(self, record: Record) -> Record:
        """Refuse or adjust a line item; returns the record as the SIS stores it."""
        reasons: list[str] = []
        class_id = record.get("class")
        klass = self.roster.classes.get(class_id or "")
        if klass is None or klass.get("status") != "active":
            reasons.append(f"class '{class_id}' is not an active class in this SIS")
        category = self.store.get("categories", record.get("category") or "")
        if category is None or category.get("status") != "active":
            reasons.append(f"category '{record.get('category')}' is not an active category")
        for field in ("gradingPeriod", "academicSession"):
            session_id = record.get(field)
            if session_id and session_id not in self.roster.sessions:
                reasons.append(f"{field} '{session_id}' is not an academic session in this SIS")
        school = record.get("school")
        if school and klass is not None and school != klass.get("schoolSourcedId"):
            reasons.append(f"school '{school}' is not the school of class '{class_id}'")
        for field in ("assignDate", "dueDate"):
            if record.get(field):
                calendar_date(record[field], field)  # a malformed date is a 400, not a 422
        if klass is not None:
            reasons += self.closed_window_reasons(record)
            reasons += self._profile_reasons(record)
        if reasons:
            raise refused("; ".join(reasons), "unknownobject" if klass is None else "invaliddata")
        if not school and klass is not None:
            # 1.1 line items carry no school; 1.2 readers require one, and the class knows it.
            record = record | {"school": klass.get("schoolSourcedId")}
        return self._profile_adjustments(record)

    def _profile_reasons(self, record: Record) -> list[str]:
        reasons = []
        limit = self.profile.title_max_chars
        title = str(record.get("title", ""))
        if limit is not None and len(title) >= limit:
            reasons.append(f"title has {len(title)} characters; {self.profile.name} accepts "
                           f"titles of fewer than {limit}")
        maximum = record.get("resultValueMax")
        if maximum is not None and self.profile.fractional_points == "reject" \
                and not float(maximum).is_integer():
            reasons.append(f"resultValueMax {maximum} is not a whole number; "
                           f"{self.profile.name} accepts whole points only")
        span = self.roster.term_span(record["class"])
        if self.profile.due_date_within_term and span and record.get("dueDate"):
            due = calendar_date(record["dueDate"], "dueDate")
            if not span[0] <= due.isoformat() <= span[1]:
                reasons.append(f"dueDate {due} is outside the term dates of class "
                               f"'{record['class']}' ({span[0]} to {span[1]})")
        return reasons

    def _profile_adjustments(self, record: Record) -> Record:
        maximum = record.get("resultValueMax")
        if maximum is not None and self.profile.fractional_points == "floor":
            # Infinite Campus rounds fractional points possible down and keeps the assignment.
            record = record | {"resultValueMax": float(math.floor(maximum))}
        return record

    def check_result(self, record: Record) -> Record:
        """Refuse a result the SIS would not take; returns it with its class filled in."""
        line_item = self.store.get("lineItems", record.get("lineItem") or "")
        if line_item is None:
            raise refused(f"line item '{record.get('lineItem')}' does not exist in this SIS",
                          "unknownobject")
        reasons: list[str] = []
        class_id = line_item["class"]
        if record.get("class") and record["class"] != class_id:
            reasons.append(f"class '{record['class']}' is not the class of line item "
                           f"'{line_item['sourcedId']}' ('{class_id}')")
        student_id = record.get("student")
        student = self.roster.users.get(student_id or "")
        if student is None or student.get("role") != "student":
            reasons.append(f"student '{student_id}' is not a student in this SIS")
        elif not self.roster.is_active_student(class_id, student_id or ""):
            reasons.append(f"student '{student_id}' is not enrolled in class '{class_id}'")
        reasons += self.closed_window_reasons(line_item)
        if reasons:
            raise refused("; ".join(reasons))
        return record | {"class": class_id}

    def check_delete(self, kind: str, record: Record) -> None:
        """A closed grading window also protects what is already in it."""
        line_item = record if kind == "lineItems" else \
            self.store.get("lineItems", record.get("lineItem") or "")
        if line_item is not None:
            reasons = self.closed_window_reasons(line_item)
            if reasons:
                raise ImsxError(422, "deletefailure", "; ".join(reasons))
