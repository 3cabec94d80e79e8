"""Gradebook endpoints: categories, line items and results over 1.1 and 1.2."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.sandbox.helpers import (
    line_item_11,
    line_item_12,
    ref,
    result_11,
    result_12,
    session_for,
)
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run


@pytest.fixture(scope="module")
def api(sis: SandboxSIS) -> requests.Session:
    return session_for(sis, vendor=False)


def test_categories_read_put_delete(sis: SandboxSIS, api: requests.Session) -> None:
    listed = api.get(f"{sis.gradebook_url}/categories").json()["categories"]
    assert [c["sourcedId"] for c in listed] == ["cat-hw", "cat-test", "cat-retired"]
    body = {"category": {"sourcedId": "cat-lab", "status": "active",
                         "dateLastModified": "2026-11-01T00:00:00Z", "title": "Lab",
                         "weight": 0.2}}
    assert api.put(f"{sis.gradebook_url}/categories/cat-lab", json=body).status_code == 201
    assert api.get(f"{sis.v1p1_url}/categories/cat-lab").json()["category"]["title"] == "Lab"
    assert api.get(f"{sis.gradebook_url}/classes/cls-alg/categories").status_code == 200
    assert api.delete(f"{sis.gradebook_url}/categories/cat-lab").status_code == 204
    assert api.get(f"{sis.gradebook_url}/categories/cat-lab").status_code == 404


def test_line_item_and_result_round_trip_v1p2(sis: SandboxSIS, api: requests.Session) -> None:
    put = api.put(f"{sis.gradebook_url}/lineItems/li-rt", json=line_item_12("li-rt"))
    assert put.status_code == 201, put.text
    assert put.content == b""  # both spec documents describe PUT success without a body
    stored = api.get(f"{sis.gradebook_url}/lineItems/li-rt").json()["lineItem"]
    assert stored["class"] == {"href": f"{sis.rostering_url}/classes/cls-alg",
                               "sourcedId": "cls-alg", "type": "class"}
    assert stored["category"]["href"] == f"{sis.gradebook_url}/categories/cat-hw"
    result = api.put(f"{sis.gradebook_url}/results/r-rt",
                     json=result_12("r-rt", "li-rt", "stu-1", 9.5))
    assert result.status_code == 201, result.text
    assert sis.store.result("r-rt")["score"] == 9.5
    assert sis.store.result("r-rt")["class"] == "cls-alg"  # filled in from the line item
    # Nested reads.
    base = sis.gradebook_url
    assert [li["sourcedId"] for li in api.get(f"{base}/classes/cls-alg/lineItems").json()[
        "lineItems"]] == ["li-rt"]
    assert [r["sourcedId"] for r in api.get(f"{base}/classes/cls-alg/results").json()[
        "results"]] == ["r-rt"]
    assert api.get(f"{base}/classes/cls-alg/lineItems/li-rt/results").json()["results"][0][
        "score"] == 9.5
    assert api.get(f"{base}/classes/cls-alg/students/stu-1/results").json()["results"][0][
        "sourcedId"] == "r-rt"
    assert api.get(f"{base}/classes/cls-alg/lineItems/nope/results").status_code == 404
    assert api.get(f"{base}/classes/nope/lineItems").status_code == 404
    # Update keeps one object.
    again = api.put(f"{base}/results/r-rt", json=result_12("r-rt", "li-rt", "stu-1", 7))
    assert again.status_code == 201
    assert [r["score"] for r in sis.store.results("li-rt")] == [7]
    # Delete the line item: its results go with it.
    assert api.delete(f"{base}/lineItems/li-rt").status_code == 204
    assert sis.store.line_item("li-rt") is None and sis.store.results("li-rt") == []
    assert api.delete(f"{base}/lineItems/li-rt").status_code == 404


def test_v1p1_writes_and_cross_version_reads(sis: SandboxSIS, api: requests.Session) -> None:
    put = api.put(f"{sis.v1p1_url}/lineItems/li-11", json=line_item_11("li-11"))
    assert put.status_code == 200, put.text  # the 1.1 document lists only 200
    res = api.put(f"{sis.v1p1_url}/results/r-11",
                  json=result_11("r-11", "li-11", "stu-2", 6, scoreStatus="not submitted"))
    assert res.status_code == 200, res.text
    as_12 = api.get(f"{sis.gradebook_url}/lineItems/li-11").json()["lineItem"]
    assert as_12["school"]["sourcedId"] == "sch-north"  # 1.2 requires school: derived
    assert api.get(f"{sis.gradebook_url}/results/r-11").json()["result"]["scoreStatus"] == \
        "not submitted"
    listed = api.get(f"{sis.v1p1_url}/results", params={"filter": "lineItem.sourcedId='li-11'"})
    assert [r["sourcedId"] for r in listed.json()["results"]] == ["r-11"]
    assert api.delete(f"{sis.v1p1_url}/results/r-11").status_code == 200
    assert sis.store.result("r-11") is None


def test_bulk_posts(sis: SandboxSIS, api: requests.Session) -> None:
    items = [line_item_12(f"li-bulk-{n}", class_id="cls-bio")["lineItem"] for n in range(3)]
    posted = api.post(f"{sis.gradebook_url}/classes/cls-bio/lineItems",
                      json={"lineItems": items})
    assert posted.status_code == 201, posted.text
    assert posted.json()["sourcedIdPairs"][0] == {"suppliedSourcedId": "li-bulk-0",
                                                  "allocatedSourcedId": "li-bulk-0"}
    results = [result_12(f"r-bulk-{s}", "li-bulk-0", s)["result"] for s in ("stu-1", "stu-4")]
    posted = api.post(f"{sis.gradebook_url}/lineItems/li-bulk-0/results",
                      json={"results": results})
    assert posted.status_code == 201, posted.text
    assert len(sis.store.results("li-bulk-0")) == 2
    school_post = api.post(f"{sis.gradebook_url}/schools/sch-north/lineItems",
                           json={"lineItems": [line_item_12("li-bulk-school")["lineItem"]]})
    assert school_post.status_code == 201
    session_post = api.post(
        f"{sis.gradebook_url}/classes/cls-bio/academicSessions/gp-q2/results",
        json={"results": [result_12("r-bulk-gp", "li-bulk-1", "stu-1")["result"]]})
    assert session_post.status_code == 422  # li-bulk-1 names no grading period
    # All or nothing: one bad item (class mismatch) stores none of them.
    mixed = [line_item_12("li-bulk-ok", class_id="cls-bio")["lineItem"],
             line_item_12("li-bulk-bad", class_id="cls-alg")["lineItem"]]
    refused = api.post(f"{sis.gradebook_url}/classes/cls-bio/lineItems",
                       json={"lineItems": mixed})
    assert refused.status_code == 422
    assert "lineItems[1]" in refused.json()["imsx_description"]
    assert sis.store.line_item("li-bulk-ok") is None
    assert api.post(f"{sis.gradebook_url}/lineItems/nope/results",
                    json={"results": []}).status_code == 404


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda li: li.pop("title"), "title"),
    (lambda li: li["class"].pop("href"), "class.href"),
    (lambda li: li["category"].pop("type"), "category.type"),
    (lambda li: li.update(colour="blue"), "colour"),
    (lambda li: li.update(resultValueMax="ten"), "resultValueMax"),
])
@pytest.mark.parametrize("version", ["v1p1", "v1p2"])
def test_bodies_are_validated_against_the_spec(sis: SandboxSIS, api: requests.Session,
                                               mutate, field: str, version: str) -> None:
    body = line_item_12("li-bad") if version == "v1p2" else line_item_11("li-bad")
    mutate(body["lineItem"])
    base = sis.gradebook_url if version == "v1p2" else sis.v1p1_url
    response = api.put(f"{base}/lineItems/li-bad", json=body)
    assert response.status_code == 400
    assert f"lineItem.{field}" in response.json()["imsx_description"]
    assert sis.store.line_item("li-bad") is None


def test_other_malformed_writes(sis: SandboxSIS, api: requests.Session) -> None:
    base = sis.gradebook_url
    assert api.put(f"{base}/lineItems/li-x", data=b"{not json",
                   headers={"Content-Type": "application/json"}).status_code == 400
    mismatch = api.put(f"{base}/lineItems/li-x", json=line_item_12("li-y"))
    assert mismatch.status_code == 400 and "li-y" in mismatch.json()["imsx_description"]
    wrong_type = line_item_11("li-x")
    wrong_type["lineItem"]["class"] = ref("course", "cls-alg")
    response = api.put(f"{sis.v1p1_url}/lineItems/li-x", json=wrong_type)
    assert response.status_code == 400 and "class.type" in response.json()["imsx_description"]
    bad_date = api.put(f"{base}/lineItems/li-x", json=line_item_12("li-x", dueDate="Tuesday"))
    assert bad_date.status_code == 400 and "dueDate" in bad_date.json()["imsx_description"]


def test_state_survives_a_restart(bundle: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.jsonl"
    with SandboxSIS(bundle, state_path=state) as first:
        api = session_for(first)
        assert api.put(f"{first.gradebook_url}/lineItems/li-keep",
                       json=line_item_12("li-keep")).status_code == 201
        assert api.put(f"{first.gradebook_url}/results/r-keep",
                       json=result_12("r-keep", "li-keep", "stu-1")).status_code == 201
        assert api.put(f"{first.gradebook_url}/lineItems/li-gone",
                       json=line_item_12("li-gone")).status_code == 201
        assert api.delete(f"{first.gradebook_url}/lineItems/li-gone").status_code == 204
    with SandboxSIS(bundle, state_path=state) as second:
        api = session_for(second)
        assert api.get(f"{second.gradebook_url}/results/r-keep").json()["result"]["score"] == 8
        assert second.store.line_item("li-keep") is not None
        assert second.store.line_item("li-gone") is None


def test_v1p1_typo_score_status_is_stored_as_the_real_value(sis: SandboxSIS,
                                                            api: requests.Session) -> None:
    assert api.put(f"{sis.v1p1_url}/lineItems/li-typo",
                   json=line_item_11("li-typo")).status_code == 200
    body = result_11("r-typo", "li-typo", "stu-1", scoreStatus="not submmitted")
    assert api.put(f"{sis.v1p1_url}/results/r-typo", json=body).status_code == 200
    assert sis.store.result("r-typo")["scoreStatus"] == "not submitted"


def test_description_travels_between_versions(sis: SandboxSIS, api: requests.Session) -> None:
    body = line_item_11("li-desc", description="Chapters 1-3")
    assert api.put(f"{sis.v1p1_url}/lineItems/li-desc", json=body).status_code == 200
    as_12 = api.get(f"{sis.gradebook_url}/lineItems/li-desc").json()["lineItem"]
    assert as_12["description"] == "Chapters 1-3"
