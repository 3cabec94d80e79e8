"""The rule catalog's building blocks: a rule is data (id, profiles, effect, message, source)
with one vectorised pandera Check attached.

The rejections table, the quality report and `docs/rules.md` are all produced from the
`Rule` objects in `checks.line_item_rules` and `checks.result_rules`, so they cannot
disagree. A check function receives the whole candidate frame and returns a boolean Series:
True where the record passes. Run-wide facts (profile, as-of date, effective date) travel in
`frame.attrs`, so one Check serves every profile and only the effect differs per profile.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import pandera.pandas as pa

from pipeline.profiles import PROFILES

Entity = Literal["line_item", "result"]
Severity = Literal["reject", "warn"]
ALL_PROFILES: tuple[str, ...] = tuple(PROFILES)
# Seeds are cited by their number; the files live in ../shared/seeds/.
SEED_FILES: dict[str, str] = {
    "000": "000_b41f86e480019d51.txt",
    "001": "001_474bfd2ec8707143.txt",
    "002": "002_4aaf186d472e591b.txt",
    "003": "003_45c9b633afefe964.txt",
    "004": "004_d6f333349fcbde1f.txt",
}

PassFn = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Rule:
    """One catalog rule. `effects` maps each profile it applies to onto reject or warn."""

    id: str
    entity: Entity
    summary: str
    effects: dict[str, Severity]
    message: str  # teacher-facing template: `{column}` placeholders from the candidate frame
    passes: PassFn
    sources: tuple[str, ...] = ()
    notes: str = ""
    # Where the SISes differ, a profile can have its own wording of the message.
    profile_messages: dict[str, str] = field(default_factory=dict)
    check: pa.Check = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = set(self.effects) - set(ALL_PROFILES)
        if unknown:
            raise ValueError(f"rule {self.id}: unknown profile(s) {sorted(unknown)}")
        # The pandera Check carries the rule's identity, so a schema error names the rule id
        # and the statistics hold everything the catalog knows about it.
        check = pa.Check(
            self.passes,
            name=self.id,
            title=self.id,
            error=self.message,
            description=self.summary,
            statistics={
                "rule": self.id,
                "entity": self.entity,
                "effects": dict(self.effects),
                "message": self.message,
                "profile_messages": dict(self.profile_messages),
                "sources": list(self.sources),
            },
        )
        object.__setattr__(self, "check", check)

    def severity(self, profile: str) -> Severity | None:
        """What breaking this rule does under a profile; None when it does not apply."""
        return self.effects.get(profile)

    def message_for(self, profile: str) -> str:
        """The teacher-facing template under a profile."""
        return self.profile_messages.get(profile, self.message)

    def placeholders(self) -> set[str]:
        """Candidate columns the message templates need."""
        return {name for template in (self.message, *self.profile_messages.values())
                for _, name, _, _ in string.Formatter().parse(template) if name}

    def failing(self, frame: pd.DataFrame) -> pd.Series:
        """Boolean mask of records that break the rule; a null verdict counts as a pass, as
        with pandera's default `ignore_na`."""
        verdict = self.passes(frame)
        return ~_as_bool(verdict, default=True)


def everywhere(severity: Severity = "reject") -> dict[str, Severity]:
    """The same effect under every profile ("all" in the catalog)."""
    return dict.fromkeys(ALL_PROFILES, severity)


def _as_bool(series: pd.Series, *, default: bool) -> pd.Series:
    """A plain numpy bool Series: Arrow-backed booleans may hold nulls."""
    return series.fillna(default).astype(bool)


def truthy(series: pd.Series) -> pd.Series:
    """True where the value is true; null counts as false."""
    return _as_bool(series, default=False)


def render_messages(template: str, rows: pd.DataFrame) -> pd.Series:
    """The template filled in for each row, vectorised (string concatenation per column, not
    a Python call per row: a bad week can reject hundreds of thousands of scores)."""
    out = pd.Series([""] * len(rows), index=rows.index, dtype="string[pyarrow]")
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        if literal:
            out = out + literal
        if name:
            value = rows[name]
            if pd.api.types.is_float_dtype(value):
                # 10.0 reads as "10" to a teacher; keep decimals only where they exist
                text = value.map(_number, na_action="ignore")
            else:
                text = value.astype("string[pyarrow]")
            out = out + text.astype("string[pyarrow]").fillna("(none)")
    return out


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class SisRule:
    """A rule only the SIS can apply: the sink records its answer (`pipeline.sink.refusals`)
    as rejection rows; nothing here evaluates it. Documented and reported beside the catalog."""

    id: str
    entities: tuple[Entity, ...]
    summary: str
    message: str  # teacher-facing template, rendered in SQL from the sync ledger
    severity: Severity = "reject"
    source: str = "the SIS's answer to our write (its imsx_description)"
    notes: str = ""
