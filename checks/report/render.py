"""Render the quality report: an HTML page (Jinja2, autoescaped, inline SVG chart) and CSVs,
written owner-readable only (they name teachers and student sourcedIds)."""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pandas as pd

from checks.report.data import ReportData

TEMPLATES = Path(__file__).parent / "templates"
# What the sink did about a record the SIS holds otherwise than Passback wrote it.
DECISIONS = {"overwrite": "edited in the SIS and overwritten",
             "kept": "kept as the SIS holds them",
             "restore": "written again (the SIS had lost the last write)"}
BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, CHART_WIDTH = 18, 6, 190, 640


@dataclass(frozen=True)
class Bar:
    """One bar of the rejections-by-rule chart, in SVG user units."""

    label: str
    value: int
    y: int
    width: float
    severity: str


def chart_bars(by_rule: pd.DataFrame) -> tuple[list[Bar], int]:
    """Bars for rejections per rule (largest first) and the chart's height."""
    values = [(str(r.rule), int(r.rejects + r.warnings), str(r.severity))
              for r in by_rule.itertuples()]
    values.sort(key=lambda v: -v[1])
    top = max((v for _, v, _ in values), default=0) or 1
    room = CHART_WIDTH - LABEL_WIDTH - 60
    bars = [Bar(label, value, i * (BAR_HEIGHT + BAR_GAP), room * value / top, severity)
            for i, (label, value, severity) in enumerate(values)]
    return bars, max(len(bars), 1) * (BAR_HEIGHT + BAR_GAP)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
    )


def _fmt_change(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "new"
    number = int(value)  # type: ignore[call-overload]
    return f"{number:+d}" if number else "0"


def render_html(data: ReportData) -> str:
    """The report page."""
    bars, height = chart_bars(data.by_rule)
    env = _environment()
    env.filters["change"] = _fmt_change
    return env.get_template("quality_report.html.j2").render(
        data=data, decisions=DECISIONS, bars=bars, chart_height=height, chart_width=CHART_WIDTH,
        label_width=LABEL_WIDTH, bar_height=BAR_HEIGHT,
    )


def summary_csv(data: ReportData) -> str:
    """Counts per rule, per teacher and per class, one long table."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dimension", "key", "label", "severity", "rejects", "warnings",
                     "records", "previous", "change"])
    for r in data.by_rule.itertuples():
        writer.writerow(["rule", r.rule, r.entity, r.severity, r.rejects, r.warnings,
                         r.records, _blank(r.previous), _blank(r.change)])
    for dimension, frame, key, label in (
        ("teacher", data.by_teacher, "teacher_user_id", "teacher_name"),
        ("class", data.by_class, "class_sourced_id", "class_title"),
    ):
        for row in frame.to_dict("records"):
            writer.writerow([dimension, row[key], row[label], "", row["rejects"],
                             row["warnings"], row["records"], "", ""])
    return out.getvalue()


def rejections_csv(data: ReportData) -> str:
    """Every rejection row with its teacher-facing message (student sourcedIds only)."""
    return data.rejections.to_csv(index=False)


def _blank(value: object) -> object:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else value


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (0600), whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT


def write_report(data: ReportData, folder: Path) -> dict[str, Path]:
    """Write the HTML page and the CSVs into `folder`; returns their paths."""
    # Every folder it creates is owner-only, not just the last (mkdir's mode skips parents).
    for missing in reversed([f for f in (folder, *folder.parents) if not f.exists()]):
        missing.mkdir(mode=0o700, exist_ok=True)
    files = {
        "html": (folder / "quality_report.html", render_html(data)),
        "summary_csv": (folder / "summary.csv", summary_csv(data)),
        "rejections_csv": (folder / "rejections.csv", rejections_csv(data)),
        "drift_csv": (folder / "sis_edits.csv", data.drift.to_csv(index=False)),
    }
    for path, text in files.values():
        write_private(path, text)
    return {name: path for name, (path, _) in files.items()}


def markdown_summary(data: ReportData, html: Path) -> str:
    """A short Markdown summary for the asset's metadata in the Dagster UI."""
    lines = [f"**{data.district} · {data.grading_period_title}**: "
             f"{data.accepted_line_items} line items and {data.accepted_results} results "
             f"accepted; {data.total_rejects} rejection rows "
             f"({data.district_level} district-level, no grading period).", "",
             "| rule | rejects | warnings | change |", "| --- | --- | --- | --- |"]
    for r in data.by_rule.head(10).itertuples():
        lines.append(f"| `{r.rule}` | {r.rejects} | {r.warnings} | {_fmt_change(r.change)} |")
    if not data.drift.empty:
        decisions = data.drift.drop_duplicates("sourced_id")["decision"].value_counts()
        said = ", ".join(f"{count} {DECISIONS[name]}" for name, count in decisions.items())
        lines += ["", f"**Differs in the SIS:** {data.drift['sourced_id'].nunique()} records "
                  f"({said})."]
    lines += ["", f"Report: `{html}`"]
    return "\n".join(lines)
