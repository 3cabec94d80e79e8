"""Bad SIS answers to an `enrollments` read, each with the outcome the extract must give.

`failed`: the asset fails with `fragment` in its message, and the warehouse is unchanged.
`quarantined`: the asset succeeds; records missing required fields go to sis.quarantine with
  `fragment` as the reason, every other record loads.
`loaded`: the asset succeeds and holds exactly the SIS's records (the fault is tolerated).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.reliability.corpus.sis_server import GOOD_RECORDS, PAGE, Answer, Scenario, page

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class SISCase:
    """One bad SIS behaviour and what the extract must do about it."""

    id: str
    input: str
    outcome: str  # "failed", "quarantined" or "loaded"
    fragment: str
    scenario: Scenario
    records: list[dict[str, Any]] = field(default_factory=lambda: GOOD_RECORDS)
    quarantined: int = 0


def _fixed(status: int, body: bytes, headers: dict[str, str] | None = None) -> Scenario:
    def answer(offset: int, records: list[dict[str, Any]]) -> Answer:
        return status, headers or JSON_HEADERS, body
    return answer


def _total(total: int, links: bool) -> Scenario:
    def answer(offset: int, records: list[dict[str, Any]]) -> Answer:
        return page(offset, records, total=total, links=links)
    return answer


def _no_paging_headers(offset: int, records: list[dict[str, Any]]) -> Answer:
    return 200, JSON_HEADERS, json.dumps({"enrollments": records[offset:offset + PAGE]}).encode()


def _redirect_loop(offset: int, records: list[dict[str, Any]]) -> Answer:
    return 302, {"Location": "{base}?offset=0"}, b""


def _later_page_html(offset: int, records: list[dict[str, Any]]) -> Answer:
    if offset == 0:
        return page(offset, records)
    return 200, {"Content-Type": "text/html"}, b"<html><body>Maintenance</body></html>"


def _next_link_to_itself(offset: int, records: list[dict[str, Any]]) -> Answer:
    """Page two names itself as the next page (the loop of issue 17); no total, so the client
    pages by the links."""
    status, headers, body = page(offset, records)
    headers = {k: v for k, v in headers.items() if k != "X-Total-Count"}
    if offset >= PAGE:
        headers["Link"] = f'<{{base}}?limit={PAGE}&offset={PAGE}>; rel="next"'
    return status, headers, body


def _ignores_offset(offset: int, records: list[dict[str, Any]]) -> Answer:
    return 200, JSON_HEADERS, json.dumps({"enrollments": records[:PAGE]}).encode()


def _without(field_name: str, n: int) -> dict[str, Any]:
    record = dict(GOOD_RECORDS[n])
    del record[field_name]
    return record


def _with(n: int, **changes: Any) -> dict[str, Any]:
    return {**GOOD_RECORDS[n], **changes}


IMSX_FAILURE = json.dumps({"imsx_codeMajor": "failure", "imsx_severity": "error",
                           "imsx_description": "database offline",
                           "imsx_CodeMinor": {"imsx_codeMinorField": []}}).encode()
HTML = b"<!DOCTYPE html><html><head><title>Error</title></head><body>Oops</body></html>"
GOOD_PAGE = json.dumps({"enrollments": GOOD_RECORDS[:PAGE]}).encode()

SIS_CASES: list[SISCase] = [
    SISCase("sis-missing-required-field", "one enrollment without `role`, one without `user`",
            "quarantined", "missing required field(s)", page,
            [*GOOD_RECORDS[:6], _without("role", 6), _without("user", 7)], quarantined=2),
    SISCase("sis-missing-sourced-id", "an enrollment without `sourcedId`", "quarantined",
            "missing required field(s): sourcedId", page,
            [*GOOD_RECORDS[:7], _without("sourcedId", 7)], quarantined=1),
    SISCase("sis-wrong-type-reference", "`user` is a bare string, not a reference object",
            "quarantined", "user.sourcedId", page,
            [*GOOD_RECORDS[:7], _with(7, user="stu-7")], quarantined=1),
    SISCase("sis-wrong-type-date", "`beginDate` is `soon`, `primary` is `maybe`", "loaded", "",
            page, [*GOOD_RECORDS[:7], _with(7, beginDate="soon", primary="maybe")]),
    SISCase("sis-total-count-larger", "X-Total-Count 30 for 8 records", "loaded", "",
            _total(30, links=True)),
    SISCase("sis-total-count-smaller", "X-Total-Count 2 for 8 records (with Link next)",
            "loaded", "", _total(2, links=True)),
    SISCase("sis-total-count-smaller-no-links", "X-Total-Count 2 for 8 records, no Link",
            "loaded", "", _total(2, links=False)),
    SISCase("sis-total-count-short", "X-Total-Count 5 for 8 records (past the first page)",
            "loaded", "", _total(5, links=True)),
    SISCase("sis-total-count-short-no-links", "X-Total-Count 5 for 8 records, no Link",
            "loaded", "", _total(5, links=False)),
    SISCase("sis-no-paging-headers", "no X-Total-Count and no Link header", "loaded", "",
            _no_paging_headers),
    SISCase("sis-html-200", "an HTML error page with status 200", "failed", "not JSON",
            _fixed(200, HTML, {"Content-Type": "text/html"})),
    SISCase("sis-html-200-later-page", "page 1 fine, page 2 an HTML page with status 200",
            "failed", "not JSON", _later_page_html),
    SISCase("sis-truncated-json", "the JSON body cut in the middle", "failed", "not JSON",
            _fixed(200, GOOD_PAGE[: len(GOOD_PAGE) // 2])),
    SISCase("sis-imsx-failure-200", "an imsx failure body with status 200", "failed",
            "database offline", _fixed(200, IMSX_FAILURE)),
    SISCase("sis-json-array", "a JSON array instead of an object", "failed", "not a JSON object",
            _fixed(200, b"[]")),
    SISCase("sis-wrapper-not-a-list", "`enrollments` is an object, not a list", "failed",
            "no `enrollments` list",
            _fixed(200, json.dumps({"enrollments": GOOD_RECORDS[0]}).encode())),
    SISCase("sis-redirect-loop", "302 to itself, forever", "failed", "HTTP 302",
            _redirect_loop),
    SISCase("sis-always-500", "every answer a 500 with an imsx body", "failed", "HTTP 500",
            _fixed(500, IMSX_FAILURE)),
    SISCase("sis-401", "401 on every call", "failed", "refused our credentials",
            _fixed(401, IMSX_FAILURE)),
    # Issue 17: a hostile SIS's paging and wrappers.
    SISCase("sis-other-wrapper", '`{"data": []}` with 200: another wrapper, no `enrollments`',
            "failed", "no `enrollments` list", _fixed(200, b'{"data": []}')),
    SISCase("sis-next-link-repeats", 'page 2\'s Link rel="next" names page 2 again (no total)',
            "failed",
            "a page already fetched", _next_link_to_itself),
    SISCase("sis-ignores-offset", "the first page again at every offset, no paging headers",
            "failed", "repeats records already read", _ignores_offset),
    SISCase("sis-total-count-huge", "X-Total-Count 1000000000 for 8 records", "loaded", "",
            _total(1_000_000_000, links=True)),
]
