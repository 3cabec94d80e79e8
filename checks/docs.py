"""`docs/rules.md`, generated from the catalog: `python -m checks.docs` rewrites it and
`python -m checks.docs --check` exits 1 when the committed file is out of date."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from checks.catalog import ALL_PROFILES, KIND_LABELS, SEED_FILES, Rule
from checks.evaluate import CATALOG
from checks.sis_rules import SIS_RULES
from checks.transforms import TRANSFORMS

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "rules.md"

_HEADER = """# Passback rules

_Generated from the rule catalog in `checks/` by `python -m checks.docs`; do not edit by hand
(a test fails when this file and the catalog disagree)._

A record that breaks a rule whose effect is **reject** gets one row per broken rule in
`passback.rejections` and does not reach `passback.line_items` / `passback.results`; a
**warn** is recorded but does not block. Rules not listed for a profile do not apply to it.
Each rule is a pandera `Check` named by its id (`checks/line_item_rules.py`,
`checks/result_rules.py`). Sources are the files in `../shared/seeds/`.
"""

_LOCATION = """
## Where rejections live
Every row of `passback.rejections` carries the grading period of its line item. A line item
whose due date falls in **no grading period** (`no_grading_period`) belongs to no partition:
its rows (and its scores' `line_item_rejected` rows) have `grading_period_sourced_id` NULL.
Every partition run of the district recomputes and replaces them in the same transaction, so
they reflect the district's latest run. They are reported once, in the district-level quality
report (`<reports>/<district>/_district/`), which each grading period's report links to and
does not count.

## In the report
The quality report's headline sorts refusals by what they ask of people ("in the report"
above): **to fix** (a teacher or the district must change something), **follows from another
refusal** (a score of a refused line item: it passes once the line item is fixed), **not ready
yet** (work not graded, its due date not passed) and **refused by the SIS**; a warning is
**sent, with a note**. A message part in `[...]` in the templates above is left out when its
value is missing.
"""


def _effects(rule: Rule) -> str:
    if set(rule.effects) == set(ALL_PROFILES) and len(set(rule.effects.values())) == 1:
        return f"all: {next(iter(rule.effects.values()))}"
    return "<br>".join(f"{p}: {e}" for p, e in rule.effects.items())


def _sources(sources: tuple[str, ...]) -> str:
    return ", ".join(f"[{s}](../../shared/seeds/{SEED_FILES[s]})" for s in sources) or "—"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rule_table(entity: str) -> list[str]:
    lines = ["| id | effect | in the report | rule | teacher message | source |",
             "| --- | --- | --- | --- | --- | --- |"]
    for rule in (r for r in CATALOG if r.entity == entity):
        message = _cell(rule.message) + "".join(
            f"<br>{profile}: {_cell(text)}" for profile, text in rule.profile_messages.items())
        lines.append(f"| `{rule.id}` | {_effects(rule)} | {KIND_LABELS[rule.kind]} | "
                     f"{_cell(rule.summary)} | {message} | {_sources(rule.sources)} |")
    return lines


def _sis_table() -> list[str]:
    lines = ["Only the SIS knows these: the sink records its answers in the sync ledger and "
             "derives these rows from it on every sync and rules run, so they stay while the "
             "SIS refuses the record.", "",
             "| id | effect | in the report | applies to | rule | teacher message | source |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for rule in SIS_RULES:
        lines.append(f"| `{rule.id}` | all: {rule.severity} | {KIND_LABELS[rule.kind]} | "
                     f"{', '.join(rule.entities)} | "
                     f"{_cell(rule.summary)} | {_cell(rule.message)} | {_cell(rule.source)} |")
    return lines


def render() -> str:
    """The whole document, from the catalog."""
    lines = [_HEADER, "## Line-item rules (one Otus class assignment)", *_rule_table("line_item"),
             "", "## Result rules (one student's score)", *_rule_table("result"), "",
             "## Rules the SIS applies (recorded by the sink)", *_sis_table(), "",
             "## Transforms", "| id | applies | transform | source |",
             "| --- | --- | --- | --- |"]
    for t in TRANSFORMS:
        applies = "all" if set(t.profiles) == set(ALL_PROFILES) else ", ".join(t.profiles)
        lines.append(f"| `{t.id}` | {applies} | {_cell(t.summary)} | {_sources(t.sources)} |")
    notes = [f"- `{r.id}`: {r.notes}" for r in (*CATALOG, *SIS_RULES) if r.notes]
    if notes:
        lines += ["", "## Where we read the seeds more closely than the catalog", *notes]
    lines.append(_LOCATION)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write docs/rules.md, or with --check report whether it is current."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare, exit 1 if stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is out of date: run python -m checks.docs", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
