"""SIS-side rules: closed grading windows, Infinite Campus and Skyward refusals, references."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox.helpers import line_item_11, line_item_12, ref, result_12, session_for
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run

Q1_DATES = {"assignDate": "2026-09-01T08:00:00-05:00", "dueDate": "2026-09-08T23:59:00-05:00"}
STRADDLE = {"assignDate": "2026-10-12T08:00:00-05:00", "dueDate": "2026-10-21T23:59:00-05:00"}


def put_line_item(sis: SandboxSIS, body: dict) -> requests.Response:
    sourced_id = body["lineItem"]["sourcedId"]
    return session_for(sis).put(f"{sis.gradebook_url}/lineItems/{sourced_id}", json=body)


def refusal(response: requests.Response, status: int = 422) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["imsx_codeMajor"] == "failure" and body["imsx_severity"] == "error"
    return body["imsx_description"]


@pytest.mark.parametrize("profile", ["sis", "ic_sis", "skyward_sis"])
class TestClosedGradingWindow:
    def test_line_item_in_a_closed_period(self, request, profile: str) -> None:
        sis = request.getfixturevalue(profile)
        why = refusal(put_line_item(sis, line_item_12("li-q1", **Q1_DATES)))
        assert "gp-q1" in why and "closed" in why
        why = refusal(put_line_item(sis, line_item_12(
            "li-q1-named", gradingPeriod=ref("academicSession", "gp-q1"))))
        assert "closed" in why

    def test_span_straddling_a_closed_period(self, request, profile: str) -> None:
        sis = request.getfixturevalue(profile)
        why = refusal(put_line_item(sis, line_item_12("li-straddle", **STRADDLE)))
        assert "touches closed grading period 'gp-q1'" in why
        assert put_line_item(sis, line_item_12("li-q2", gradingPeriod=ref(
            "academicSession", "gp-q2"))).status_code == 201

    def test_result_for_a_line_item_in_a_closed_period(self, request, bundle, profile: str
                                                       ) -> None:
        sis = request.getfixturevalue(profile)
        # Seed the line item through a sandbox where Q1 is still open, sharing the state.
        with SandboxSIS(bundle, profile=sis.profile.name) as open_sis:
            assert put_line_item(open_sis, line_item_12("li-old", **Q1_DATES)).status_code == 201
            sis.store.put("lineItems", open_sis.store.line_item("li-old"))
        api = session_for(sis)
        why = refusal(api.put(f"{sis.gradebook_url}/results/r-old",
                              json=result_12("r-old", "li-old", "stu-1")))
        assert "closed" in why
        assert "closed" in refusal(api.delete(f"{sis.gradebook_url}/lineItems/li-old"))


def test_grading_window_metadata_on_infinite_campus(ic_sis: SandboxSIS,
                                                    sis: SandboxSIS) -> None:
    for base in (ic_sis.rostering_url, ic_sis.v1p1_url):
        periods = session_for(ic_sis).get(f"{base}/gradingPeriods").json()["academicSessions"]
        assert {p["sourcedId"]: p["metadata"]["gradingWindowOpen"] for p in periods} == {
            "gp-q1": False, "gp-q2": True, "gp-q3": True, "gp-q4": True}
    term = session_for(ic_sis).get(f"{ic_sis.rostering_url}/terms/term-fall").json()
    assert "metadata" not in term["academicSession"]
    plain = session_for(sis).get(f"{sis.rostering_url}/gradingPeriods").json()
    assert all("metadata" not in p for p in plain["academicSessions"])


class TestInfiniteCampus:
    def test_due_date_outside_the_term_is_refused(self, ic_sis: SandboxSIS) -> None:
        # cls-alg runs in the fall term only (2026-08-17 .. 2026-12-18).
        why = refusal(put_line_item(ic_sis, line_item_12(
            "li-late", assignDate="2026-12-14T08:00:00-06:00",
            dueDate="2027-01-08T23:59:00-06:00")))
        assert "outside the term dates" in why and "2026-12-18" in why
        assert put_line_item(ic_sis, line_item_12("li-in-term")).status_code == 201

    def test_fractional_points_are_floored(self, ic_sis: SandboxSIS) -> None:
        response = put_line_item(ic_sis, line_item_12("li-frac", resultValueMax=10.5))
        assert response.status_code == 201
        stored = session_for(ic_sis).get(f"{ic_sis.gradebook_url}/lineItems/li-frac")
        assert stored.json()["lineItem"]["resultValueMax"] == 10
        assert ic_sis.store.line_item("li-frac")["resultValueMax"] == 10

    def test_long_titles_are_accepted(self, ic_sis: SandboxSIS) -> None:
        assert put_line_item(ic_sis, line_item_12("li-long", title="T" * 80)).status_code == 201


class TestSkyward:
    def test_fractional_points_are_refused(self, skyward_sis: SandboxSIS) -> None:
        why = refusal(put_line_item(skyward_sis, line_item_12("li-frac", resultValueMax=10.5)))
        assert "whole number" in why
        assert skyward_sis.store.line_item("li-frac") is None

    @pytest.mark.parametrize(("length", "status"), [(49, 201), (50, 422), (51, 422)])
    def test_titles_must_be_under_fifty_characters(self, skyward_sis: SandboxSIS, length: int,
                                                   status: int) -> None:
        response = put_line_item(skyward_sis, line_item_12(f"li-title-{length}",
                                                           title="x" * length))
        assert response.status_code == status, response.text
        if status == 422:
            assert "fewer than 50" in response.json()["imsx_description"]

    def test_due_date_outside_term_is_not_a_skyward_rule(self, skyward_sis: SandboxSIS) -> None:
        assert put_line_item(skyward_sis, line_item_12(
            "li-late", assignDate="2026-12-14T08:00:00-06:00",
            dueDate="2027-01-08T23:59:00-06:00")).status_code == 201

    def test_refusal_over_1p1_too(self, skyward_sis: SandboxSIS) -> None:
        response = session_for(skyward_sis).put(
            f"{skyward_sis.v1p1_url}/lineItems/li-11-long",
            json=line_item_11("li-11-long", title="y" * 60))
        assert "fewer than 50" in refusal(response)


class TestReferences:
    @pytest.mark.parametrize(("field", "value", "words"), [
        ("class", ref("class", "cls-ghost"), "class 'cls-ghost'"),
        ("category", ref("category", "cat-ghost"), "category 'cat-ghost'"),
        ("category", ref("category", "cat-retired"), "not an active category"),
        ("gradingPeriod", ref("academicSession", "gp-ghost"), "gp-ghost"),
        ("school", ref("org", "sch-south"), "not the school of class"),
    ])
    def test_unknown_line_item_references(self, sis: SandboxSIS, field: str, value: dict,
                                          words: str) -> None:
        body = line_item_12(f"li-ref-{field}")
        body["lineItem"][field] = value
        assert words in refusal(put_line_item(sis, body))

    def test_result_references(self, sis: SandboxSIS) -> None:
        api = session_for(sis)
        assert put_line_item(sis, line_item_12("li-refs")).status_code == 201
        url = f"{sis.gradebook_url}/results"
        assert "line item 'li-ghost'" in refusal(api.put(
            f"{url}/r-1", json=result_12("r-1", "li-ghost", "stu-1")))
        assert "student 'stu-ghost'" in refusal(api.put(
            f"{url}/r-2", json=result_12("r-2", "li-refs", "stu-ghost")))
        assert "student 'tch-ada'" in refusal(api.put(
            f"{url}/r-3", json=result_12("r-3", "li-refs", "tch-ada")))
        # stu-5 is in another school's class; stu-3's enrollment in cls-alg was dropped.
        assert "not enrolled in class 'cls-alg'" in refusal(api.put(
            f"{url}/r-4", json=result_12("r-4", "li-refs", "stu-5")))
        assert "not enrolled" in refusal(api.put(
            f"{url}/r-5", json=result_12("r-5", "li-refs", "stu-3")))
        assert "not the class of line item" in refusal(api.put(
            f"{url}/r-6", json=result_12("r-6", "li-refs", "stu-1",
                                         **{"class": ref("class", "cls-bio")})))
        assert api.put(f"{url}/r-7", json=result_12("r-7", "li-refs", "stu-2")).status_code == 201
        assert [r["sourcedId"] for r in sis.store.results("li-refs")] == ["r-7"]

    def test_every_reason_is_reported_at_once(self, skyward_sis: SandboxSIS) -> None:
        why = refusal(put_line_item(skyward_sis, line_item_12(
            "li-many", title="z" * 55, resultValueMax=7.5,
            category=ref("category", "cat-ghost"))))
        assert "category" in why and "whole number" in why and "fewer than 50" in why
