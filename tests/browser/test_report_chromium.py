"""The quality report as a person sees it: headless Chromium lays the page out, and what it
drew (the chart's bars, the headline, every teacher's section) carries the report's numbers.

The page has no script of its own; the test renders a copy with a small script that measures
the layout and writes it into the DOM, which `--dump-dom` returns.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from html import unescape
from pathlib import Path

import pytest

from checks.report.render import headline
from tests.browser.chromium import rendered_dom, screenshot
from tests.report.helpers import District, run_generated

pytestmark = pytest.mark.slow  # generates a district and starts a browser

PERIOD = "sy2026-q2"
DOCS_SHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "quality-report.png"
MEASURE = """
<script>
addEventListener("load", () => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
  const out = {
    headline: [...document.querySelectorAll("#headline p")].map((p) => p.innerText),
    headlineBox: box(document.querySelector("#headline")),
    chart: box(document.querySelector("#chart")),
    bars: [...document.querySelectorAll("#chart g.bar")].map((g) => ({
      rule: g.dataset.rule, label: g.querySelector("text").textContent,
      value: g.querySelector("text.value").textContent,
      width: box(g.querySelector("rect"))[0]})),
    categories: [...document.querySelectorAll("#categories tr[data-category]")].map((tr) => (
      [tr.dataset.category, ...[...tr.querySelectorAll("td.n")].map((td) => td.innerText)])),
    teachers: [...document.querySelectorAll("details.teacher")].map((d) => ({
      id: d.dataset.teacher, open: d.open, summary: d.querySelector("summary").innerText,
      summaryBox: box(d.querySelector("summary")),
      rows: [...d.querySelectorAll("table.items tr[data-category]")].filter(
        (tr) => tr.checkVisibility() && box(tr)[1] > 0).length})),
  };
  const pre = document.createElement("pre");
  pre.id = "measured";
  pre.textContent = JSON.stringify(out);
  document.body.append(pre);
});
</script>
"""


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> District:
    """A generated district's reports, teachers' files on."""
    pytest.importorskip("tooling.generate")
    return run_generated(tmp_path_factory.mktemp("browser-report"))


def _measured(district: District) -> dict:
    page = district.written[PERIOD].paths["html"]
    probe = page.with_name("measured.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"),
                     encoding="utf-8")
    dom = rendered_dom(probe.as_uri(), render_ms=3000, width=1200, height=1600)
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, "the measuring script did not run: " + dom[-500:]
    return json.loads(unescape(found.group(1)))


def _n(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_chart_headline_and_teacher_sections_render_with_the_report_numbers(
        district: District, tmp_path: Path) -> None:
    data = district.written[PERIOD].data
    seen = _measured(district)

    assert seen["headline"] == headline(data) and min(seen["headlineBox"]) > 0
    assert {c[0]: (_n(c[1]), _n(c[2])) for c in seen["categories"]} == {
        name: (data.count(name, "line_item"), data.count(name, "result"))
        for name in ("fix", "sis_refused", "follows", "not_ready", "notice")}

    rows = dict(zip(data.by_rule["rule"], data.by_rule["rows"], strict=True))
    assert min(seen["chart"]) > 0 and len(seen["bars"]) == len(rows)
    for bar in seen["bars"]:
        assert bar["label"] == bar["rule"] and _n(bar["value"]) == rows[bar["rule"]]
        assert bar["width"] > 0
    widths = [bar["width"] for bar in seen["bars"]]  # largest first, drawn to scale
    assert widths == sorted(widths, reverse=True)
    top = seen["bars"][0]
    for bar in seen["bars"]:
        assert bar["width"] == pytest.approx(top["width"] * _n(bar["value"]) / _n(top["value"]),
                                             abs=1.0)

    teachers = {t.teacher_user_id or "": t for t in data.teachers}
    assert len(seen["teachers"]) == len(teachers) > 1
    for shown in seen["teachers"]:
        teacher = teachers[shown["id"]]
        assert min(shown["summaryBox"]) > 0
        counts = re.findall(r"([\d,]+) (to fix|waiting|not ready)", shown["summary"])
        assert {label: _n(n) for n, label in counts} == {
            "to fix": teacher.to_fix, "waiting": teacher.counts["follows"],
            "not ready": teacher.counts["not_ready"]}
        assert shown["summary"].startswith(teacher.teacher_name)
        # The first (most to fix) is open and shows its rows; the others are collapsed.
        assert shown["rows"] == (teacher.listed if shown["open"] else 0)
    assert seen["teachers"][0]["open"] and seen["teachers"][0]["rows"] > 0

    shot = screenshot(district.written[PERIOD].paths["html"].as_uri(),
                      tmp_path / "quality-report.png", render_ms=1000, width=1100, height=2300)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("PASSBACK_UPDATE_SCREENSHOTS"):
        DOCS_SHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_SHOT)
