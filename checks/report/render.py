"""Render the quality report: the headline in plain sentences, an HTML page (Jinja2,
autoescaped, inline SVG chart, one collapsible section per teacher) and the Markdown the
Dagster UI shows. Everything here reads the small frames of `ReportData`; the CSVs are
DuckDB's (`checks.report.files`)."""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pandas as pd

from checks.catalog import KIND_LABELS
from checks.report.data import ReportData
from checks.report.files import make_private_folder, teacher_file_key

TEMPLATES = Path(__file__).parent / "templates"
# What the sink did about a record the SIS holds otherwise than Passback wrote it.
DECISIONS = {"overwrite": "edited in the SIS and overwritten",
             "kept": "kept as the SIS holds them",
             "restore": "written again (the SIS had lost the last write)"}
COLOURS = {"fix": "#b22222", "follows": "#8c8c8c", "not_ready": "#4a7ab5",
           "sis_refused": "#6a3d9a", "notice": "#d08a00"}
BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, CHART_WIDTH = 18, 6, 190, 640
NOUNS = {"line_item": ("assessment", "assessments"), "result": ("score", "scores")}


@dataclass(frozen=True)
class Bar:
    """One bar of the rejections-by-rule chart, in SVG user units."""

    label: str
    value: int
    y: int
    width: float
    kind: str


def number(count: int, singular: str, plural: str | None = None) -> str:
    """'1 score', '2,244 scores'."""
    return f"{count:,} {singular if count == 1 else (plural or singular + 's')}"


def _both(data: ReportData, category: str) -> str:
    parts = [number(data.count(category, e), *NOUNS[e]) for e in ("line_item", "result")
             if data.count(category, e)]
    return " and ".join(parts)


def headline(data: ReportData) -> list[str]:
    """The report's first sentences: what teachers must fix, kept apart from what follows from
    it and what is simply not ready; a closed period says it is closed and asks nothing."""
    scope = data.scope
    if scope.closed:
        held = " and ".join(number(n, *NOUNS[e]) for e in ("line_item", "result")
                            if (n := sum(v for (_c, e2), v in data.headline.items()
                                         if e2 == e)))
        return [f"{scope.title} is closed: Passback sends nothing to the SIS for it, and "
                "nothing in this report is for teachers to do.",
                f"For the record, {held or 'nothing'} in it did not pass the rules."]
    lines = []
    if scope.district_level:
        lines.append("These assessments are due in no grading period, so no grading period's "
                     "report counts them: they are counted here only.")
    fix = _both(data, "fix")
    lines.append(f"Teachers must fix {fix}." if fix else "Teachers have nothing to fix.")
    if data.count("sis_refused"):
        lines.append(f"The SIS refused {_both(data, 'sis_refused')} that Passback sent; its "
                     "reasons are below.")
    if data.count("follows"):
        waiting = number(data.count("follows"), "score")
        lines.append(f"{waiting} wait on an assessment that is refused; they pass back once "
                     "it is fixed.")
    if data.count("not_ready"):
        lines.append(f"{number(data.count('not_ready'), 'score')} "
                     f"{'is' if data.count('not_ready') == 1 else 'are'} not ready yet "
                     "(not graded, or the due date has not passed): nothing to do for now.")
    if data.count("notice"):
        lines.append(f"{_both(data, 'notice')} went to the SIS with a note.")
    if not scope.district_level:
        lines.append(f"Passed back: {number(data.accepted_line_items, *NOUNS['line_item'])} "
                     f"and {number(data.accepted_results, *NOUNS['result'])}.")
        if data.district_level:
            counts = data.district_level_counts
            both = " and ".join(number(counts[e], *NOUNS[e]) for e in ("line_item", "result")
                                if counts.get(e))
            lines.append(f"Refused {both} due in no grading period: the district-level "
                         "report lists them, and counts them there only.")
    return lines


def chart_bars(by_rule: pd.DataFrame) -> tuple[list[Bar], int]:
    """Bars for rows per rule (largest first), coloured by kind, and the chart's height."""
    values = [(str(r.rule), int(r.rows), str(r.kind)) for r in by_rule.itertuples()]
    values.sort(key=lambda v: -v[1])
    top = max((v for _, v, _ in values), default=0) or 1
    room = CHART_WIDTH - LABEL_WIDTH - 60
    bars = [Bar(label, value, i * (BAR_HEIGHT + BAR_GAP), room * value / top, kind)
            for i, (label, value, kind) in enumerate(values)]
    return bars, max(len(bars), 1) * (BAR_HEIGHT + BAR_GAP)


@functools.cache
def _environment() -> jinja2.Environment:
    """One environment per process: the template is compiled once."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["change"] = _fmt_change
    env.filters["n"] = lambda value: f"{int(value):,}"
    env.filters["text"] = lambda value: "" if _missing(value) else str(value)
    env.filters["file_key"] = teacher_file_key
    return env


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _fmt_change(value: object) -> str:
    if _missing(value):
        return "first run"
    number_ = int(value)  # type: ignore[call-overload]
    return f"{number_:+d}" if number_ else "0"


def render_html(data: ReportData, *, teacher_files: bool = False,
                district_level_link: str | None = None) -> str:
    """The report page."""
    bars, height = chart_bars(data.by_rule)
    return _environment().get_template("quality_report.html.j2").render(
        data=data, headline=headline(data), decisions=DECISIONS, bars=bars, colours=COLOURS,
        kinds=KIND_LABELS, chart_height=height, chart_width=CHART_WIDTH,
        label_width=LABEL_WIDTH, bar_height=BAR_HEIGHT, teacher_files=teacher_files,
        district_level_link=district_level_link,
    )


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (0600), whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT


def write_html(data: ReportData, folder: Path, **options: object) -> Path:
    """Write the page into `folder` (replaced whole: a reader never sees half a page)."""
    make_private_folder(folder)
    path = folder / "quality_report.html"
    staging = folder / f".quality_report.html.{os.getpid()}"
    write_private(staging, render_html(data, **options))  # type: ignore[arg-type]
    staging.replace(path)
    return path


def markdown_summary(data: ReportData, html: Path) -> str:
    """The headline as Markdown for the asset's metadata in the Dagster UI, with counts per
    rule and a link to the page. Counts only: no student, no teacher is named."""
    scope = data.scope
    state = " (closed)" if scope.closed else ""
    lines = [f"**{data.district} · {scope.title}{state}**", "",
             *[f"- {sentence}" for sentence in headline(data)], "",
             "| rule | in the report | rows | since the previous run |",
             "| --- | --- | ---: | ---: |"]
    for r in data.by_rule.head(12).itertuples():
        lines.append(f"| `{r.rule}` | {KIND_LABELS.get(str(r.kind), r.kind)} | {r.rows:,} | "
                     f"{_fmt_change(r.change)} |")
    if data.drift_rows:
        decisions = data.drift.drop_duplicates("sourced_id")["decision"].value_counts()
        said = ", ".join(f"{count} {DECISIONS[name]}" for name, count in decisions.items())
        lines += ["", f"**Differs in the SIS:** {data.drift['sourced_id'].nunique()} records "
                  f"({said})."]
    lines += ["", f"Report: [{html.name}]({html.resolve().as_uri()})"]
    return "\n".join(lines)
