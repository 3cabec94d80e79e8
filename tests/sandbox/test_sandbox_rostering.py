"""Rostering endpoints over 1.1 and 1.2, and the collection protocol (paging, filter, sort)."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox.helpers import session_for
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run


@pytest.fixture(scope="module")
def api(sis: SandboxSIS) -> requests.Session:
    return session_for(sis, vendor=False)


def ids(response: requests.Response, key: str) -> list[str]:
    assert response.status_code == 200, response.text
    return [obj["sourcedId"] for obj in response.json()[key]]


@pytest.mark.parametrize("base", ["v1p1_url", "rostering_url"])
@pytest.mark.parametrize(("path", "key", "expected"), [
    ("/orgs", "orgs", ["dist", "sch-north", "sch-south"]),
    ("/schools", "orgs", ["sch-north", "sch-south"]),
    ("/academicSessions", "academicSessions",
     ["sy-2027", "term-fall", "term-spring", "gp-q1", "gp-q2", "gp-q3", "gp-q4"]),
    ("/terms", "academicSessions", ["term-fall", "term-spring"]),
    ("/gradingPeriods", "academicSessions", ["gp-q1", "gp-q2", "gp-q3", "gp-q4"]),
    ("/courses", "courses", ["crs-math", "crs-sci", "crs-chem"]),
    ("/classes", "classes", ["cls-alg", "cls-bio", "cls-chem"]),
    ("/teachers", "users", ["tch-ada", "tch-bo"]),
    ("/students", "users", ["stu-1", "stu-2", "stu-3", "stu-4", "stu-5", "stu-6"]),
    ("/terms/term-fall/gradingPeriods", "academicSessions", ["gp-q1", "gp-q2"]),
    ("/terms/term-spring/classes", "classes", ["cls-bio", "cls-chem"]),
    ("/courses/crs-sci/classes", "classes", ["cls-bio"]),
    ("/classes/cls-bio/students", "users", ["stu-1", "stu-4"]),
    ("/classes/cls-alg/teachers", "users", ["tch-ada"]),
    ("/schools/sch-south/classes", "classes", ["cls-chem"]),
    ("/schools/sch-north/courses", "courses", ["crs-math", "crs-sci"]),
    ("/schools/sch-south/enrollments", "enrollments",
     ["enr-cls-chem-tch-bo", "enr-cls-chem-stu-5", "enr-cls-chem-stu-6"]),
    ("/schools/sch-south/students", "users", ["stu-5", "stu-6"]),
    ("/schools/sch-north/teachers", "users", ["tch-ada"]),
    ("/schools/sch-south/terms", "academicSessions", ["term-spring"]),
    ("/schools/sch-north/classes/cls-bio/students", "users", ["stu-1", "stu-4"]),
    ("/schools/sch-north/classes/cls-alg/teachers", "users", ["tch-ada"]),
    ("/schools/sch-south/classes/cls-chem/enrollments", "enrollments",
     ["enr-cls-chem-tch-bo", "enr-cls-chem-stu-5", "enr-cls-chem-stu-6"]),
    ("/students/stu-1/classes", "classes", ["cls-alg", "cls-bio"]),
    ("/teachers/tch-ada/classes", "classes", ["cls-alg", "cls-bio"]),
    ("/users/stu-5/classes", "classes", ["cls-chem"]),
])
def test_collections_return_the_district(sis: SandboxSIS, api: requests.Session, base: str,
                                          path: str, key: str, expected: list[str]) -> None:
    response = api.get(getattr(sis, base) + path)
    assert ids(response, key) == expected
    assert response.headers["X-Total-Count"] == str(len(expected))


@pytest.mark.parametrize(("path", "key"), [
    ("/orgs/sch-north", "org"), ("/schools/sch-north", "org"),
    ("/academicSessions/gp-q2", "academicSession"), ("/terms/term-fall", "academicSession"),
    ("/gradingPeriods/gp-q2", "academicSession"), ("/courses/crs-math", "course"),
    ("/classes/cls-alg", "class"), ("/users/stu-1", "user"), ("/students/stu-1", "user"),
    ("/teachers/tch-ada", "user"), ("/enrollments/enr-cls-alg-stu-1", "enrollment"),
])
def test_single_objects(sis: SandboxSIS, api: requests.Session, path: str, key: str) -> None:
    for base in (sis.v1p1_url, sis.rostering_url):
        response = api.get(base + path)
        assert response.status_code == 200, response.text
        assert response.json()[key]["sourcedId"] == path.rsplit("/", 1)[1]


@pytest.mark.parametrize("path", ["/classes/nope", "/students/tch-ada", "/schools/dist",
                                  "/terms/gp-q1", "/classes/nope/students",
                                  "/schools/nope/classes", "/terms/nope/gradingPeriods"])
def test_unknown_objects_and_parents_are_404(sis: SandboxSIS, api: requests.Session,
                                             path: str) -> None:
    response = api.get(sis.rostering_url + path)
    assert response.status_code == 404
    body = response.json()
    assert body["imsx_codeMajor"] == "failure"
    assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == \
        "unknownobject"


def test_versions_render_their_own_shapes(sis: SandboxSIS, api: requests.Session) -> None:
    v11 = api.get(f"{sis.v1p1_url}/users/tch-ada").json()["user"]
    v12 = api.get(f"{sis.rostering_url}/users/tch-ada").json()["user"]
    assert v11["role"] == "teacher" and v11["enabledUser"] is True
    assert v11["orgs"][0]["href"] == f"{sis.v1p1_url}/orgs/sch-north"
    assert v12["enabledUser"] == "true"
    assert v12["roles"] == [{"roleType": "primary", "role": "teacher", "org": {
        "href": f"{sis.rostering_url}/orgs/sch-north", "sourcedId": "sch-north", "type": "org"}}]
    assert v12["userIds"] == [{"type": "Fed", "identifier": "T1"}]
    klass11 = api.get(f"{sis.v1p1_url}/classes/cls-bio").json()["class"]
    klass12 = api.get(f"{sis.rostering_url}/classes/cls-bio").json()["class"]
    assert klass11["periods"] == "1,2" and klass12["periods"] == ["1", "2"]
    assert [t["sourcedId"] for t in klass12["terms"]] == ["term-fall", "term-spring"]
    enrollment = api.get(f"{sis.v1p1_url}/enrollments/enr-cls-alg-stu-3").json()["enrollment"]
    assert enrollment["status"] == "tobedeleted" and enrollment["primary"] is False


class TestPaging:
    def test_links_and_total(self, sis: SandboxSIS, api: requests.Session) -> None:
        response = api.get(f"{sis.rostering_url}/students", params={"limit": 4})
        assert ids(response, "users") == ["stu-1", "stu-2", "stu-3", "stu-4"]
        assert response.headers["X-Total-Count"] == "6"
        links = response.links
        assert set(links) == {"next", "first", "last"}
        assert "offset=4" in links["next"]["url"] and "offset=4" in links["last"]["url"]
        following = api.get(links["next"]["url"])
        assert ids(following, "users") == ["stu-5", "stu-6"]
        assert set(following.links) == {"prev", "first", "last"}  # the last page has no next

    def test_offset_past_the_end_is_an_empty_page(self, sis: SandboxSIS,
                                                  api: requests.Session) -> None:
        response = api.get(f"{sis.rostering_url}/students", params={"offset": 50})
        assert ids(response, "users") == []
        assert response.headers["X-Total-Count"] == "6"

    def test_empty_collection(self, sis: SandboxSIS, api: requests.Session) -> None:
        response = api.get(f"{sis.rostering_url}/classes/cls-chem/students",
                           params={"filter": "givenName='Nobody'"})
        assert ids(response, "users") == []
        assert response.headers["X-Total-Count"] == "0"
        assert "next" not in response.links

    def test_limit_above_the_profile_cap_is_clamped(self, bundle, tmp_path) -> None:
        with SandboxSIS(bundle, profile="skyward") as skyward:
            assert skyward.profile.max_page_size == 500
            api = session_for(skyward)
            response = api.get(f"{skyward.rostering_url}/students", params={"limit": 100000})
            assert len(response.json()["users"]) == 6
            assert "limit=500" in response.links["first"]["url"]

    @pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "ten"}, {"offset": "-1"},
                                        {"orderBy": "sideways"}])
    def test_bad_paging_is_400(self, sis: SandboxSIS, api: requests.Session,
                               params: dict) -> None:
        response = api.get(f"{sis.rostering_url}/students", params=params)
        assert response.status_code == 400
        assert response.json()["imsx_codeMajor"] == "failure"


class TestQuery:
    def test_filter_operators(self, sis: SandboxSIS, api: requests.Session) -> None:
        url = f"{sis.rostering_url}/academicSessions"
        assert ids(api.get(url, params={"filter": "type='term'"}), "academicSessions") == \
            ["term-fall", "term-spring"]
        assert ids(api.get(url, params={"filter": "startDate>='2027-01-01'"}),
                   "academicSessions") == ["term-spring", "gp-q3", "gp-q4"]
        assert ids(api.get(url, params={
            "filter": "type='gradingPeriod' AND endDate<'2026-12-01'"}), "academicSessions") \
            == ["gp-q1"]
        assert ids(api.get(url, params={"filter": "sourcedId='gp-q1' OR sourcedId='gp-q4'"}),
                   "academicSessions") == ["gp-q1", "gp-q4"]
        assert ids(api.get(url, params={"filter": "title~'q'"}), "academicSessions") == \
            ["gp-q1", "gp-q2", "gp-q3", "gp-q4"]
        assert len(ids(api.get(url, params={"filter": "type!='gradingPeriod'"}),
                       "academicSessions")) == 3

    def test_filter_on_a_reference_and_date_last_modified(self, sis: SandboxSIS,
                                                          api: requests.Session) -> None:
        url = f"{sis.rostering_url}/enrollments"
        assert len(ids(api.get(url, params={"filter": "class.sourcedId='cls-bio'"}),
                       "enrollments")) == 3
        assert ids(api.get(url, params={
            "filter": "dateLastModified>'2026-10-01T00:00:00Z'"}), "enrollments") == []

    def test_sort_order_and_fields(self, sis: SandboxSIS, api: requests.Session) -> None:
        response = api.get(f"{sis.rostering_url}/students",
                           params={"sort": "familyName", "orderBy": "desc",
                                   "fields": "sourcedId,familyName"})
        users = response.json()["users"]
        assert [u["sourcedId"] for u in users] == [f"stu-{n}" for n in range(6, 0, -1)]
        assert set(users[0]) == {"sourcedId", "familyName"}

    @pytest.mark.parametrize("params", [{"filter": "nonsense"}, {"filter": "shoeSize='9'"},
                                        {"sort": "shoeSize"}, {"fields": "sourcedId,shoeSize"},
                                        {"filter": "type='term' AND"}])
    def test_bad_queries_name_the_problem(self, sis: SandboxSIS, api: requests.Session,
                                          params: dict) -> None:
        response = api.get(f"{sis.rostering_url}/academicSessions", params=params)
        assert response.status_code == 400
        description = response.json()["imsx_description"]
        assert ("shoeSize" in description) or ("filter" in description)


def test_unknown_path_and_method(sis: SandboxSIS, api: requests.Session) -> None:
    assert api.get(f"{sis.rostering_url}/spaceships").status_code == 404
    response = api.delete(f"{sis.rostering_url}/classes/cls-alg")
    assert response.status_code == 405
    assert response.json()["imsx_codeMajor"] == "failure"


def test_fields_on_single_objects_and_boolean_filters(sis: SandboxSIS,
                                                      api: requests.Session) -> None:
    klass = api.get(f"{sis.rostering_url}/classes/cls-alg", params={"fields": "sourcedId,title"})
    assert klass.json() == {"class": {"sourcedId": "cls-alg", "title": "cls-alg"}}
    category = api.get(f"{sis.gradebook_url}/categories/cat-hw", params={"fields": "title"})
    assert category.json() == {"category": {"title": "Homework"}}
    assert api.get(f"{sis.rostering_url}/classes/cls-alg",
                   params={"fields": "colour"}).status_code == 400
    # 1.1 renders enabledUser as a JSON boolean; the filter value is still quoted text.
    enabled = api.get(f"{sis.v1p1_url}/users", params={"filter": "enabledUser='true'"})
    assert len(enabled.json()["users"]) == 9
