"""The sandbox's own responses, success and error, validate against the OneRoster documents.

openapi-core checks each response (status, headers, body schema) against the
operation it answers. The 1.1 document is used with its scoreStatus typo fixed
(the real value is "not submitted"); nothing else is relaxed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from pipeline.oneroster.spec import fix_v1p1_typos, load_document
from tests.sandbox.helpers import line_item_11, line_item_12, result_11, result_12, session_for
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server, a process or a Dagster run


def _openapi(document: dict, base_url: str) -> OpenAPI:
    patched = copy.deepcopy(document)
    patched["servers"] = [{"url": base_url}]
    return OpenAPI.from_dict(patched)


@pytest.fixture(scope="module")
def ic(bundle) -> Iterator[SandboxSIS]:
    with SandboxSIS(bundle, profile="infinite_campus", closed_grading_periods=["gp-q1"]) as sis:
        yield sis


@pytest.fixture(scope="module")
def validators(ic: SandboxSIS) -> dict[str, OpenAPI]:
    return {
        ic.v1p1_url: _openapi(fix_v1p1_typos(load_document("v1p1")), ic.v1p1_url),
        ic.rostering_url: _openapi(load_document("rostering"), ic.rostering_url),
        ic.gradebook_url: _openapi(load_document("gradebook"), ic.gradebook_url),
    }


@pytest.fixture(scope="module")
def api(ic: SandboxSIS) -> requests.Session:
    return session_for(ic)


def conforms(validators: dict[str, OpenAPI], response: requests.Response) -> None:
    """Raise when the response breaks its operation's documented response."""
    base = next(b for b in validators if response.url.startswith(b + "/"))
    validators[base].validate_response(RequestsOpenAPIRequest(response.request),
                                       RequestsOpenAPIResponse(response))


ROSTER_PATHS = [
    "/orgs", "/orgs/dist", "/schools", "/schools/sch-north", "/academicSessions",
    "/academicSessions/term-fall", "/terms", "/terms/term-fall", "/gradingPeriods",
    "/gradingPeriods/gp-q1", "/courses", "/courses/crs-math", "/classes", "/classes/cls-bio",
    "/users", "/users/adm-1", "/teachers", "/teachers/tch-ada", "/students", "/students/stu-1",
    "/enrollments", "/enrollments/enr-cls-alg-stu-3", "/terms/term-fall/gradingPeriods",
    "/terms/term-fall/classes", "/courses/crs-math/classes", "/classes/cls-alg/students",
    "/classes/cls-alg/teachers", "/schools/sch-north/classes", "/schools/sch-north/courses",
    "/schools/sch-north/enrollments", "/schools/sch-north/students",
    "/schools/sch-north/teachers", "/schools/sch-north/terms",
    "/schools/sch-north/classes/cls-alg/enrollments",
    "/schools/sch-north/classes/cls-alg/students",
    "/schools/sch-north/classes/cls-alg/teachers", "/students/stu-1/classes",
    "/teachers/tch-ada/classes", "/users/stu-1/classes",
]


@pytest.mark.parametrize("path", ROSTER_PATHS)
def test_rostering_responses_conform(ic: SandboxSIS, api: requests.Session, validators,
                                     path: str) -> None:
    for base in (ic.v1p1_url, ic.rostering_url):
        response = api.get(base + path, params={"limit": 3} if "/" not in path[1:] else None)
        assert response.status_code == 200, response.text
        conforms(validators, response)


@pytest.fixture(scope="module")
def gradebook_written(ic: SandboxSIS, api: requests.Session) -> None:
    """One line item and result written through each version."""
    for response in (
        api.put(f"{ic.gradebook_url}/lineItems/li-c12", json=line_item_12("li-c12")),
        api.put(f"{ic.gradebook_url}/results/r-c12", json=result_12("r-c12", "li-c12", "stu-1")),
        api.put(f"{ic.v1p1_url}/lineItems/li-c11", json=line_item_11("li-c11")),
        api.put(f"{ic.v1p1_url}/results/r-c11",
                json=result_11("r-c11", "li-c11", "stu-2", scoreStatus="not submitted")),
    ):
        assert response.status_code in (200, 201), response.text


@pytest.mark.usefixtures("gradebook_written")
@pytest.mark.parametrize("path", [
    "/categories", "/categories/cat-hw", "/lineItems", "/lineItems/li-c12", "/lineItems/li-c11",
    "/results", "/results/r-c12", "/results/r-c11", "/classes/cls-alg/lineItems",
    "/classes/cls-alg/results", "/classes/cls-alg/lineItems/li-c12/results",
    "/classes/cls-alg/students/stu-1/results",
])
def test_gradebook_reads_conform(ic: SandboxSIS, api: requests.Session, validators,
                                 path: str) -> None:
    for base in (ic.v1p1_url, ic.gradebook_url):
        response = api.get(base + path)
        assert response.status_code == 200, response.text
        conforms(validators, response)
    assert api.get(f"{ic.gradebook_url}/classes/cls-alg/categories").status_code == 200


def test_gradebook_writes_conform(ic: SandboxSIS, api: requests.Session, validators) -> None:
    writes = [
        api.put(f"{ic.gradebook_url}/lineItems/li-w12", json=line_item_12("li-w12")),
        api.put(f"{ic.v1p1_url}/lineItems/li-w11", json=line_item_11("li-w11")),
        api.post(f"{ic.gradebook_url}/classes/cls-alg/lineItems",
                 json={"lineItems": [line_item_12("li-wpost")["lineItem"]]}),
        api.post(f"{ic.gradebook_url}/lineItems/li-wpost/results",
                 json={"results": [result_12("r-wpost", "li-wpost", "stu-1")["result"]]}),
        api.delete(f"{ic.gradebook_url}/lineItems/li-w12"),
        api.delete(f"{ic.v1p1_url}/lineItems/li-w11"),
    ]
    assert [w.status_code for w in writes] == [201, 200, 201, 201, 204, 200]
    for response in writes:
        if response.url.startswith(ic.v1p1_url):
            # The derived 1.1 document turned Swagger's bare "200" into `content: {}`, which
            # no response can satisfy (no media type, yet a body required); the status and
            # the empty body are what its source documents.
            assert response.status_code == 200 and response.content == b""
        else:
            conforms(validators, response)


def test_errors_conform(ic: SandboxSIS, api: requests.Session, validators) -> None:
    reader = session_for(ic, "roster.readonly", "gradebook.readonly")
    errors = {
        400: api.get(f"{ic.rostering_url}/classes", params={"filter": "bogus"}),
        401: requests.get(f"{ic.gradebook_url}/lineItems", timeout=5),
        403: reader.put(f"{ic.gradebook_url}/lineItems/li-e", json=line_item_12("li-e")),
        404: api.get(f"{ic.gradebook_url}/lineItems/missing"),
        422: api.put(f"{ic.gradebook_url}/lineItems/li-e",
                     json=line_item_12("li-e", title="x", dueDate="2027-04-01T00:00:00Z")),
    }
    for status, response in errors.items():
        assert response.status_code == status, response.text
        conforms(validators, response)
    v11 = [api.get(f"{ic.v1p1_url}/classes/missing"),
           api.put(f"{ic.v1p1_url}/lineItems/li-e", json={"lineItem": {}})]
    assert [r.status_code for r in v11] == [404, 400]
    for response in v11:
        conforms(validators, response)
    ic.set_faults("burst_429=1")
    try:
        busy = api.get(f"{ic.gradebook_url}/lineItems")
        failing = (ic.set_faults("error_rate=1"), api.get(f"{ic.gradebook_url}/lineItems"))[1]
    finally:
        ic.set_faults(None)
    assert busy.status_code == 429 and failing.status_code >= 500
    conforms(validators, busy)
    conforms(validators, failing)


def test_a_broken_response_is_caught(ic: SandboxSIS, api: requests.Session, validators) -> None:
    """The check is real: a body missing a required field fails it."""
    response = api.get(f"{ic.rostering_url}/classes/cls-alg")
    response._content = response.content.replace(b'"title"', b'"tytle"')
    with pytest.raises(Exception, match="(?i)invalid|valid"):
        conforms(validators, response)
