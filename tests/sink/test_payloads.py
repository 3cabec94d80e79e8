"""Payloads follow the OneRoster spec of each version; the compiled check agrees with jsonschema."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from pipeline.oneroster.bodies import BODY_SCHEMAS, DOCUMENTS, body_check, body_problem
from pipeline.oneroster.spec import validators
from pipeline.sink.payloads import LINE_ITEMS, RESULTS, PayloadBuilder, payload_hash, wrap
from tests.sink.helpers import district_config

SIS = SimpleNamespace(url="http://127.0.0.1:9", token_url="http://127.0.0.1:9/oauth/token")
LINE_ITEM_ROW = {"sourced_id": "li-1", "title": "Quiz 1", "description": "Chapter 3",
                 "assign_date": date(2026, 10, 1), "due_date": date(2026, 10, 8),
                 "class_sourced_id": "class-1", "school_sourced_id": "school-1",
                 "category_sourced_id": "cat-1", "grading_period_sourced_id": "gp-1",
                 "result_value_min": 0.0, "result_value_max": 10.0, "status": "active"}
RESULT_ROW = {"sourced_id": "res-1", "line_item_sourced_id": "li-1",
              "student_sourced_id": "student-1", "class_sourced_id": "class-1", "score": 8.5,
              "score_status": "fully graded", "score_date": date(2026, 10, 9)}


def builder(version: str) -> PayloadBuilder:
    return PayloadBuilder.for_district(district_config(SIS, version=version),
                                       now=datetime(2026, 11, 2, tzinfo=UTC))


def bodies(version: str) -> dict[str, dict[str, Any]]:
    b = builder(version)
    return {LINE_ITEMS: wrap(LINE_ITEMS, b.line_item(LINE_ITEM_ROW)),
            RESULTS: wrap(RESULTS, b.result(RESULT_ROW))}


def test_version_1_2_line_item_has_school_and_gradebook_hrefs() -> None:
    line_item = bodies("1.2")[LINE_ITEMS]["lineItem"]
    assert line_item["school"] == {"href": "http://127.0.0.1:9/ims/oneroster/rostering/v1p2/"
                                           "orgs/school-1", "sourcedId": "school-1", "type": "org"}
    assert line_item["category"]["href"].endswith("/gradebook/v1p2/categories/cat-1")
    assert line_item["gradingPeriod"]["type"] == "academicSession"
    assert line_item["dueDate"] == "2026-10-08T17:00:00.000Z"  # noon in Chicago
    assert line_item["dateLastModified"] == "2026-11-02T00:00:00.000Z"


def test_version_1_1_has_no_school_and_no_result_class() -> None:
    version_1_1 = bodies("1.1")
    assert "school" not in version_1_1[LINE_ITEMS]["lineItem"]
    assert "class" not in version_1_1[RESULTS]["result"]
    assert version_1_1[RESULTS]["result"]["lineItem"]["href"] == \
        "http://127.0.0.1:9/ims/oneroster/v1p1/lineItems/li-1"


def test_results_never_carry_statuses() -> None:
    for version in ("1.1", "1.2"):
        result = bodies(version)[RESULTS]["result"]
        assert result["scoreStatus"] == "fully graded"
        assert not {"late", "missing", "incomplete", "inProgress"} & set(result)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_bodies_validate_with_jsonschema_and_the_compiled_check(version: str) -> None:
    # Regression: `description` (like `title`) is both a schema annotation keyword and a
    # OneRoster property name; inlining the spec once dropped the property and refused every
    # line item that had one. The built line item carries one, so it is validated here.
    assert bodies(version)[LINE_ITEMS]["lineItem"]["description"] == "Chapter 3"
    for entity, body in bodies(version).items():
        schema = BODY_SCHEMAS[(version, entity)]
        assert validators(DOCUMENTS[version]).problems(schema, body) == []
        assert body_check(version, entity)(body) is None


def _broken(version: str) -> list[tuple[str, dict[str, Any]]]:
    """Bodies that break the spec in different ways."""
    cases = []
    for entity, body in bodies(version).items():
        key = "lineItem" if entity == LINE_ITEMS else "result"
        missing = copy.deepcopy(body)
        del missing[key]["sourcedId"]
        extra = copy.deepcopy(body)
        extra[key]["late"] = "true" if entity == LINE_ITEMS else 1
        wrong_type = copy.deepcopy(body)
        wrong_type[key]["status"] = "deleted"
        ref = copy.deepcopy(body)
        ref[key]["lineItem" if entity == RESULTS else "class"]["sourcedId"] = 7
        cases += [(entity, missing), (entity, extra), (entity, wrong_type), (entity, ref)]
    return cases


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_the_compiled_check_refuses_what_jsonschema_refuses(version: str) -> None:
    for entity, body in _broken(version):
        schema = BODY_SCHEMAS[(version, entity)]
        assert validators(DOCUMENTS[version]).problems(schema, body), body
        assert body_check(version, entity)(body) is not None, body
        assert body_problem(version, entity, body)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_an_unknown_property_is_refused_by_name(version: str) -> None:
    body = bodies(version)[LINE_ITEMS]
    body["lineItem"]["weight"] = 2
    [problem] = validators(DOCUMENTS[version]).problems(BODY_SCHEMAS[(version, LINE_ITEMS)], body)
    assert "weight" in problem.message


def test_a_1_2_line_item_without_school_is_invalid() -> None:
    row = LINE_ITEM_ROW | {"school_sourced_id": None}
    body = wrap(LINE_ITEMS, builder("1.2").line_item(row))
    assert "school" in (body_problem("1.2", LINE_ITEMS, body) or "")


def test_formats_are_checked_too() -> None:
    body = bodies("1.2")[LINE_ITEMS]
    body["lineItem"]["dueDate"] = "2026-10-08"  # a date where the spec wants a date-time
    assert "date-time" in (body_problem("1.2", LINE_ITEMS, body) or "")


def test_the_hash_ignores_the_send_time_only() -> None:
    record = builder("1.2").line_item(LINE_ITEM_ROW)
    later = record | {"dateLastModified": "2027-01-01T00:00:00.000Z"}
    assert payload_hash(record) == payload_hash(later)
    assert payload_hash(record) != payload_hash(record | {"title": "Quiz 2"})
