"""The quality report follows the sink: what the SIS refused at the last sync is in its own
section and in the teacher's list, and the scores it held back count once, as following."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.report.build import write_report
from checks.report.data import load_report_data
from checks.report.render import headline
from pipeline.warehouse import connect
from tests.sink.helpers import GP_FALL, Gradebook, district_config, ledger, sync
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # starts the sandbox SIS

LONG_TITLE = "A title that is far too long for Skyward's gradebook"


@pytest.fixture
def skyward(bundle: Path, credentials_env: None) -> SandboxSIS:
    """A Skyward sandbox: titles of 50 characters or more are refused."""
    with SandboxSIS(bundle, profile="skyward") as sis:
        yield sis


def test_the_sis_refusals_have_a_section_and_count_in_the_headline(
        skyward: SandboxSIS, gradebook: Gradebook, tmp_path: Path) -> None:
    gradebook.add_line_items(2)
    gradebook.line_item("li-0001")["title"] = LONG_TITLE
    gradebook.save()
    report = sync(gradebook, district_config(skyward, profile="skyward", concurrency=5))
    assert report.counters.refused == 1 and report.counters.blocked == 3
    reason = ledger(gradebook.path)["li-0001"][2]

    with connect(gradebook.path) as conn:
        data = load_report_data(conn, gradebook.district, GP_FALL)
        paths = write_report(conn, data, tmp_path / "report", per_teacher=True)

    assert data.count("sis_refused", "line_item") == 1
    assert data.count("follows", "result") == 3  # held back, counted once, not as to fix
    assert data.count("fix") == 0
    assert "The SIS refused 1 assessment that Passback sent; its reasons are below." in \
        headline(data)
    [refusal] = data.sis_refusals.itertuples()
    assert (refusal.title, refusal.message, refusal.waiting) == (LONG_TITLE, reason, 3)
    html = paths["html"].read_text(encoding="utf-8")
    section = html.split('<h2 id="sis-refusals">', 1)[1].split("<h2", 1)[0]
    assert reason.replace("'", "&#39;") in section and LONG_TITLE.replace("'", "&#39;") in section
    [teacher] = data.teachers
    assert teacher.teacher_user_id == "t-1" and teacher.to_fix == 1
    assert teacher.counts["follows"] == 3
    [listed] = (tmp_path / "report" / "teachers").glob("*.csv")
    assert reason in listed.read_text(encoding="utf-8")
