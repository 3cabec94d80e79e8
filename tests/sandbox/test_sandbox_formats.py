"""The sandbox is as strict as the spec on `format`: date, date-time and uri on every write body.

An independent provider refuses each of these with 400; before, the sandbox stored them and
then served collections that broke the official schema.
"""

from __future__ import annotations

import pytest
import requests
from jsonschema import FormatChecker

from pipeline.oneroster.spec import validators
from tests.sandbox.helpers import line_item_11, line_item_12, result_11, result_12, session_for
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run


@pytest.fixture(scope="module")
def api(sis: SandboxSIS) -> requests.Session:
    return session_for(sis, vendor=False)


def _base(sis: SandboxSIS, version: str) -> str:
    return sis.gradebook_url if version == "v1p2" else sis.v1p1_url


def _description(response: requests.Response) -> str:
    assert response.status_code == 400, (response.status_code, response.text)
    return response.json()["imsx_description"]


@pytest.mark.parametrize("version", ["v1p1", "v1p2"])
@pytest.mark.parametrize(("field", "value"), [
    ("scoreDate", "garbage"), ("scoreDate", "2026-02-30"),
    ("scoreDate", "2026-11-03T08:00:00Z"),  # a date-time where the spec wants a date
    ("dateLastModified", "yesterday"), ("dateLastModified", "2026-11-03"),
])
def test_result_put_with_a_malformed_date_is_refused(sis: SandboxSIS, api: requests.Session,
                                                     version: str, field: str,
                                                     value: str) -> None:
    sourced_id = f"r-fmt-{version}-{field}-{value}".replace(":", "")
    make = result_12 if version == "v1p2" else result_11
    line_item = f"li-fmt-{version}"
    assert api.put(f"{_base(sis, version)}/lineItems/{line_item}",
                   json=(line_item_12 if version == "v1p2" else line_item_11)(line_item)
                   ).status_code in (200, 201)
    body = make(sourced_id, line_item, "stu-1", **{field: value})
    described = _description(api.put(f"{_base(sis, version)}/results/{sourced_id}", json=body))
    assert f"result.{field}" in described and repr(value) in described
    assert sis.store.result(sourced_id) is None


@pytest.mark.parametrize("version", ["v1p1", "v1p2"])
@pytest.mark.parametrize(("field", "value", "named"), [
    ("assignDate", "2026-11-02", "lineItem.assignDate"),
    ("dueDate", "2026-11-09", "lineItem.dueDate"),
    ("dueDate", "Tuesday", "lineItem.dueDate"),
    ("dateLastModified", "yesterday", "lineItem.dateLastModified"),
])
def test_line_item_put_with_a_malformed_date_time_is_refused(
        sis: SandboxSIS, api: requests.Session, version: str, field: str, value: str,
        named: str) -> None:
    sourced_id = f"li-fmt-bad-{version}-{field}-{value}"
    body = (line_item_12 if version == "v1p2" else line_item_11)(sourced_id, **{field: value})
    described = _description(api.put(f"{_base(sis, version)}/lineItems/{sourced_id}",
                                      json=body))
    assert named in described and repr(value) in described
    assert sis.store.line_item(sourced_id) is None


@pytest.mark.parametrize("version", ["v1p1", "v1p2"])
def test_an_href_that_is_not_a_uri_is_refused(sis: SandboxSIS, api: requests.Session,
                                              version: str) -> None:
    body = (line_item_12 if version == "v1p2" else line_item_11)(f"li-href-{version}")
    body["lineItem"]["class"]["href"] = "not a uri"
    described = _description(api.put(f"{_base(sis, version)}/lineItems/li-href-{version}",
                                     json=body))
    assert "lineItem.class.href" in described and "'not a uri'" in described


def test_bulk_posts_check_formats_of_every_item(sis: SandboxSIS, api: requests.Session) -> None:
    good = line_item_12("li-fmt-bulk-ok", class_id="cls-bio")["lineItem"]
    bad = line_item_12("li-fmt-bulk-bad", class_id="cls-bio", assignDate="2026-11-02")
    described = _description(api.post(f"{sis.gradebook_url}/classes/cls-bio/lineItems",
                                      json={"lineItems": [good, bad["lineItem"]]}))
    assert "lineItems.1.assignDate" in described
    assert sis.store.line_item("li-fmt-bulk-ok") is None  # all or nothing
    assert api.put(f"{sis.gradebook_url}/lineItems/li-fmt-bulk",
                   json=line_item_12("li-fmt-bulk", class_id="cls-bio")).status_code == 201
    results = [result_12("r-fmt-bulk-1", "li-fmt-bulk", "stu-1")["result"],
               result_12("r-fmt-bulk-4", "li-fmt-bulk", "stu-4", scoreDate="2026-02-30")["result"]]
    described = _description(api.post(f"{sis.gradebook_url}/lineItems/li-fmt-bulk/results",
                                      json={"results": results}))
    assert "results.1.scoreDate" in described and "results.0" not in described
    assert sis.store.result("r-fmt-bulk-1") is None


def test_a_400_lists_every_violation_not_the_first_five(sis: SandboxSIS,
                                                        api: requests.Session) -> None:
    body = line_item_12("li-fmt-many", assignDate="soon", dueDate="later",
                        dateLastModified="yesterday", colour="blue", resultValueMax="ten")
    for name in ("class", "school", "category"):
        body["lineItem"][name]["href"] = "not a uri"
    described = _description(api.put(f"{sis.gradebook_url}/lineItems/li-fmt-many", json=body))
    fields = ["assignDate", "dueDate", "dateLastModified", "colour", "resultValueMax",
              "class.href", "school.href", "category.href"]
    assert [f for f in fields if f"lineItem.{f}:" not in described] == []


def test_what_the_sandbox_serves_back_keeps_the_official_formats(
        sis: SandboxSIS, api: requests.Session) -> None:
    assert api.put(f"{sis.gradebook_url}/lineItems/li-fmt-served",
                   json=line_item_12("li-fmt-served")).status_code == 201
    assert api.put(f"{sis.v1p1_url}/results/r-fmt-served",
                   json=result_11("r-fmt-served", "li-fmt-served", "stu-1")).status_code == 200
    # Writes a lax SIS would take and then serve back; whatever is answered, what is listed
    # afterwards must still be valid.
    api.put(f"{sis.gradebook_url}/results/r-fmt-served-bad",
            json=result_12("r-fmt-served-bad", "li-fmt-served", "stu-2", scoreDate="garbage"))
    api.put(f"{sis.gradebook_url}/lineItems/li-fmt-served-bad",
            json=line_item_12("li-fmt-served-bad", assignDate="2026-11-02"))
    checker = FormatChecker()  # every format jsonschema knows, not the sandbox's own list
    for version, document, schemas in (
            ("v1p2", "gradebook", {"lineItems": "LineItemDType", "results": "ResultDType",
                                   "categories": "CategoryDType"}),
            ("v1p1", "v1p1", {"lineItems": "LineItem.Type", "results": "Result.Type",
                              "categories": "Category.Type"})):
        for kind, schema in schemas.items():
            validator = validators(document).validator(schema).evolve(format_checker=checker)
            listed = api.get(f"{_base(sis, version)}/{kind}").json()[kind]
            assert listed, kind
            problems = [(item["sourcedId"], error.message) for item in listed
                        for error in validator.iter_errors(item)]
            assert problems == [], (version, kind)
