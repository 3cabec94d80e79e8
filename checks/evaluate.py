"""Run the catalog over a candidate frame: which records break which rules, and the
teacher-facing rejection rows.

Why not `DataFrameSchema.validate(lazy=True)`: pandera collects a failure-case row per
failing value, which over millions of scores costs far more than the checks themselves
(measured in tooling/bench/rules.py). Each rule's Check function is vectorised, so we call
it once for its mask; pandera still validates the accepted tables' schema
(`checks.schemas`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from checks.catalog import Entity, Rule, Severity, SisRule, render_messages
from checks.line_item_rules import LINE_ITEM_RULES
from checks.result_rules import RESULT_RULES
from checks.sis_rules import SIS_RULES

CATALOG: tuple[Rule, ...] = LINE_ITEM_RULES + RESULT_RULES


def rules_for(entity: Entity, profile: str) -> list[Rule]:
    """The rules that apply to an entity under a profile, in catalog order."""
    return [r for r in CATALOG if r.entity == entity and r.severity(profile) is not None]


def rule_by_id(rule_id: str) -> Rule | SisRule:
    """A rule of the catalog, or one the SIS applies, by its id (ids are unique per entity
    and across entities)."""
    for rule in (*CATALOG, *SIS_RULES):
        if rule.id == rule_id:
            return rule
    raise KeyError(rule_id)


@dataclass
class Verdicts:
    """The outcome of one entity's rules over one candidate frame."""

    entity: Entity
    profile: str
    frame: pd.DataFrame
    failures: dict[str, np.ndarray]  # rule id -> bool mask of records that break it
    severities: dict[str, Severity]

    @property
    def rejected(self) -> np.ndarray:
        """Records that break at least one rejecting rule (warnings do not block)."""
        mask = np.zeros(len(self.frame), dtype=bool)
        for rule_id, failing in self.failures.items():
            if self.severities[rule_id] == "reject":
                mask |= failing
        return mask

    def accepted(self) -> pd.DataFrame:
        """The records that pass every rejecting rule."""
        return self.frame[~self.rejected]

    def counts(self) -> dict[str, int]:
        """Failures per rule (warnings included)."""
        return {rule_id: int(mask.sum()) for rule_id, mask in self.failures.items()}


def evaluate(frame: pd.DataFrame, entity: Entity, profile: str) -> Verdicts:
    """Each applicable rule's vectorised Check over the frame, once."""
    failures: dict[str, np.ndarray] = {}
    severities: dict[str, Severity] = {}
    for rule in rules_for(entity, profile):
        failures[rule.id] = rule.failing(frame).to_numpy(dtype=bool)
        severities[rule.id] = rule.severity(profile)  # type: ignore[assignment]
    return Verdicts(entity, profile, frame, failures, severities)


def rejection_rows(
    verdicts: Verdicts,
    keys: list[str],
    context: pd.DataFrame | None = None,
    context_key: str = "assignment_id",
) -> pd.DataFrame:
    """One row per (record, broken rule): the record's `keys`, rule, severity and message.

    `context` (indexed by `context_key`) supplies message fields the candidate frame does not
    carry, joined only onto failing records, so a wide field like a title is not repeated
    across millions of scores that pass.
    """
    parts = []
    for rule in rules_for(verdicts.entity, verdicts.profile):
        failing = verdicts.failures[rule.id]
        if not failing.any():
            continue
        rows = verdicts.frame[failing]
        if context is not None:
            rows = rows.join(context, on=context_key)
        part = rows[keys].copy()
        part["rule"] = rule.id
        part["severity"] = verdicts.severities[rule.id]
        part["message"] = render_messages(rule.message_for(verdicts.profile), rows)
        parts.append(part)
    if not parts:
        empty = {k: pd.Series(dtype="string[pyarrow]") for k in [*keys, "rule", "severity",
                                                                   "message"]}
        return pd.DataFrame(empty)
    return pd.concat(parts, ignore_index=True)
