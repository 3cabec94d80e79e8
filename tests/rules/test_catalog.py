"""The catalog itself: it matches the rule catalog (tests/fixtures/passback-rules.md), every
rule is a named pandera Check that knows its metadata, and docs/rules.md is generated from it
and current."""

from __future__ import annotations

import re
from pathlib import Path

import pandera.pandas as pa
import pytest

from checks import docs
from checks.catalog import ALL_PROFILES, SEED_FILES
from checks.evaluate import CATALOG
from checks.line_item_rules import LINE_ITEM_RULES
from checks.result_rules import RESULT_RULES

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "passback-rules.md"


def _spec_effects() -> dict[tuple[str, str], str]:
    """(rule id, profile) -> effect, from the spec's rule tables."""
    effects: dict[tuple[str, str], str] = {}
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| `(\w+)` \| ([^|]+) \| (reject|warn) \|", line)
        if not m:
            continue
        rule, applies, effect = m.group(1), m.group(2).strip(), m.group(3)
        profiles = ALL_PROFILES if applies.startswith("all") else [
            p.strip() for p in applies.split(",")]
        for profile in profiles:
            effects[(rule, profile)] = effect
    return effects


def test_catalog_matches_the_spec() -> None:
    ours = {(r.id, p): e for r in CATALOG for p, e in r.effects.items()}
    assert ours == _spec_effects()


def test_every_rule_is_a_named_pandera_check_with_its_metadata() -> None:
    ids = [r.id for r in CATALOG]
    assert len(ids) == len(set(ids)) == 20
    for rule in CATALOG:
        assert isinstance(rule.check, pa.Check)
        assert rule.check.name == rule.id and rule.check.error == rule.message
        assert rule.check.statistics["effects"] == rule.effects
        assert set(rule.sources) <= set(SEED_FILES)
        assert rule.placeholders(), f"{rule.id}: a message must name the record"
    assert {r.entity for r in LINE_ITEM_RULES} == {"line_item"}
    assert {r.entity for r in RESULT_RULES} == {"result"}


def test_a_rule_check_runs_inside_a_pandera_schema() -> None:
    import pandas as pd

    from checks.line_item_rules import LINE_ITEM_RULES as rules

    rule = next(r for r in rules if r.id == "not_in_final_grade")
    schema = pa.DataFrameSchema(checks=[rule.check])
    frame = pd.DataFrame({"include_in_final_grade": [True, False]})
    with pytest.raises(pa.errors.SchemaError) as failed:
        schema.validate(frame)
    assert failed.value.check.name == "not_in_final_grade"
    assert "Include Score in Final Grade" in str(failed.value)
    schema.validate(frame.iloc[:1])


def test_docs_are_generated_from_the_catalog_and_current() -> None:
    text = docs.render()
    for rule in CATALOG:
        assert f"`{rule.id}`" in text
    assert docs.DOC_PATH.read_text(encoding="utf-8") == text, "run python -m checks.docs"
    assert docs.main(["--check"]) == 0
