"""Tolerant reading of OneRoster records: 1.1 and 1.2 shapes flatten to the same columns."""

from __future__ import annotations

import datetime as dt

from pipeline.oneroster import ENDPOINTS


def test_grading_window_flag_as_boolean_or_string() -> None:
    sessions = ENDPOINTS["academic_sessions"]
    base = {"sourcedId": "gp1", "status": "active", "type": "gradingPeriod"}
    flags = [sessions.flatten({**base, "metadata": {"gradingWindowOpen": value}},
                              "d")["grading_window_open"]
             for value in (True, "false", "TRUE", "maybe", None)]
    assert flags == [True, False, True, None, None]


def test_user_in_12_shape_with_roles_and_unknown_fields() -> None:
    user = ENDPOINTS["users"].flatten({
        "sourcedId": "u1", "status": "active", "dateLastModified": "2026-07-01T05:00:00-05:00",
        "enabledUser": "true", "futureField": {"ignored": True},
        "roles": [{"roleType": "secondary", "role": "teacher", "org": {"sourcedId": "s2"}},
                  {"roleType": "primary", "role": "student", "org": {"sourcedId": "s1"}}],
        "primaryOrg": {"sourcedId": "s1"}}, "d")
    assert user["role"] == "student" and user["enabled_user"] is True
    assert user["org_sourced_ids"] == ["s1", "s2"]
    assert user["date_last_modified"] == dt.datetime(2026, 7, 1, 10, tzinfo=dt.UTC)


def test_line_item_dates_from_timestamps_and_numbers_from_text() -> None:
    line_items = ENDPOINTS["line_items"]
    record = {"sourcedId": "li", "assignDate": "2026-09-01T00:00:00Z", "dueDate": "bad",
              "resultValueMax": "10.5", "class": {"sourcedId": "c"}}
    row = line_items.flatten(record, "d")
    assert (row["assign_date"], row["due_date"], row["result_value_max"]) == \
        (dt.date(2026, 9, 1), None, 10.5)
    assert line_items.missing_fields({"sourcedId": "li", "class": {"sourcedId": ""}}) == \
        ["class.sourcedId"]
