"""Errors classified once (issue 17, item 6): through the real extract asset in a Dagster job
that retries its steps, a permanent failure (an HTML 200, a body that is not the collection, a
token answer that cannot be used, a 403) fails on its first attempt with its real cause, and a
transient one (a SIS answering 503) is still retried by the step. Before, every one of them was
retried, the HTML page for minutes of silent backoff before "not JSON"."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from assets.extract.sis import build_sis_asset
from pipeline.oneroster import OneRosterResource, endpoint
from pipeline.resources import Districts, Warehouse
from tests.reliability.helpers import district_file_at
from tests.reliability.test_corpus_otus import failure_text
from tests.sink.raw_sis import http_answer, keep_alive, raw_sis
from tooling.generate import GeneratedDistrict

pytestmark = pytest.mark.slow  # starts a server and runs Dagster jobs

DISTRICT = "permdist"
SECRETS = ("PERM_CLIENT_ID", "PERM_CLIENT_SECRET")
ASSET = build_sis_asset(endpoint("classes"), dg.StaticPartitionsDefinition([DISTRICT]))
QUICK = OneRosterResource(max_retries=1, backoff_factor=0.0, backoff_max_seconds=0.0,
                          backoff_jitter=0.0)
TOKEN = http_answer(200, json.dumps({"access_token": "t", "token_type": "bearer",
                                     "expires_in": 3600}).encode())
HTML = b"<!DOCTYPE html><html><body>Down for maintenance</body></html>"
CASES = {  # case: (token answer, page answer, a fragment of the failure, permanent)
    "html-200": (TOKEN, http_answer(200, HTML, {"Content-Type": "text/html"}),
                 "the body is not JSON (HTTP 200, text/html)", True),
    "other-wrapper": (TOKEN, http_answer(200, b'{"data": []}'),
                      'expected {"classes": [...]}, found keys `data`', True),
    "expires-in-soon": (http_answer(200, b'{"access_token": "t", "expires_in": "soon"}'),
                        http_answer(200, b'{"classes": []}'), "expires_in 'soon'", True),
    "forbidden": (TOKEN, http_answer(403, b'{"imsx_codeMajor": "failure"}'), "HTTP 403", True),
    "unavailable": (TOKEN, http_answer(503, b'{"imsx_codeMajor": "failure"}'), "HTTP 503",
                    False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_permanent_error_fails_the_step_at_once_and_a_transient_one_is_retried(
        case: str, generated: GeneratedDistrict, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    token, page, fragment, permanent = CASES[case]
    for name, value in zip(SECRETS, ("perm-client", "perm-secret"), strict=True):
        monkeypatch.setenv(name, value)
    heads: list[bytes] = []
    with raw_sis(keep_alive(lambda head: token if head.startswith(b"POST") else page,
                            heads)) as sis:
        job = dg.define_asset_job("extract_classes", selection=[ASSET.key],
                                  op_retry_policy=dg.RetryPolicy(max_retries=2))
        defs = dg.Definitions(assets=[ASSET], jobs=[job], resources={
            "warehouse": Warehouse(database=str(tmp_path / "warehouse.duckdb")),
            "districts": Districts(mappings_dir=str(district_file_at(
                tmp_path / "m", generated, DISTRICT, sis.url, secrets=SECRETS))),
            "oneroster": QUICK})
        result = defs.resolve_job_def("extract_classes").execute_in_process(
            partition_key=DISTRICT, raise_on_error=False)
    retried = sum(1 for event in result.all_events
                  if event.event_type_value == "STEP_UP_FOR_RETRY")
    message = failure_text(result)
    assert not result.success and fragment in message, message[:1500]
    assert "perm-secret" not in message
    if permanent:
        assert retried == 0, f"{case}: a permanent error was retried {retried} times"
        assert len(heads) <= 2  # a token and one page (or the token alone): no retries
    else:
        assert retried == 2, f"{case}: a transient error was not retried by the step"
