"""The rule catalog's building blocks: a rule is data (id, profiles, effect, message, source)
with one vectorised pandera Check attached.

The rejections table, the quality report and `docs/rules.md` are all produced from the
`Rule` objects in `checks.line_item_rules` and `checks.result_rules`, so they cannot
disagree. A check function receives the whole candidate frame and returns a boolean Series:
True where the record passes. Run-wide facts (profile, as-of date, effective date) travel in
`frame.attrs`, so one Check serves every profile and only the effect differs per profile.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import pandera.pandas as pa

from pipeline.profiles import PROFILES

Entity = Literal["line_item", "result"]
Severity = Literal["reject", "warn"]
# What a refusal asks of people, for the quality report's headline (checks/report): `fix`, a
# teacher (or the district) must change something; `follows`, it goes away when another
# refusal is fixed (a score of a refused line item); `not_ready`, nothing is wrong yet (work
# not graded, its due date not passed); `sis_refused`, the SIS said no to what we sent.
Kind = Literal["fix", "follows", "not_ready", "sis_refused"]
# How the report and docs/rules.md name each kind; a warning (effect `warn`) is a `notice`.
KIND_LABELS: dict[str, str] = {
    "fix": "to fix", "follows": "follows from another refusal", "not_ready": "not ready yet",
    "sis_refused": "refused by the SIS", "notice": "sent, with a note",
}
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
    # Teacher-facing template: `{column}` placeholders from the candidate frame; a part in
    # `[...]` is left out where any of its placeholders is missing (see render_messages).
    message: str
    passes: PassFn
    sources: tuple[str, ...] = ()
    kind: Kind = "fix"
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
                "kind": self.kind,
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


# A missing value in a part of a message that cannot be left out (rare: templates bracket
# the parts whose values can be missing, and a test renders every template with all missing).
MISSING = "unknown"
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


def template_parts(template: str) -> list[tuple[str, bool]]:
    """The template split into (text, optional) parts: `[...]` parts are optional."""
    parts, at = [], 0
    for match in _OPTIONAL.finditer(template):
        parts += [(template[at:match.start()], False), (match.group(1), True)]
        at = match.end()
    return [(text, optional) for text, optional in [*parts, (template[at:], False)] if text]


def render_messages(template: str, rows: pd.DataFrame) -> pd.Series:
    """The template filled in for each row, vectorised (string concatenation per column, not
    a Python call per row: a bad week can reject hundreds of thousands of scores).

    An optional `[...]` part disappears where any value in it is missing, so a sentence reads
    well without it ("has no points possible[ (it shows {points_possible})]")."""
    out = pd.Series([""] * len(rows), index=rows.index, dtype="string[pyarrow]")
    for text, optional in template_parts(template):
        part = pd.Series([""] * len(rows), index=rows.index, dtype="string[pyarrow]")
        for literal, name, _spec, _conv in string.Formatter().parse(text):
            if literal:
                part = part + literal
            if name:
                value = rows[name]
                if pd.api.types.is_float_dtype(value):
                    # 10.0 reads as "10" to a teacher; keep decimals only where they exist
                    value = value.map(_number, na_action="ignore")
                value = value.astype("string[pyarrow]")
                part = part + (value if optional else value.fillna(MISSING))
        out = out + part.fillna("")
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
    kind: Kind
    severity: Severity = "reject"
    source: str = "the SIS's answer to our write (its imsx_description)"
    notes: str = ""
