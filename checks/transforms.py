"""Profile transforms: how a candidate is changed (not refused) before it is sent.

Like the rules, each transform is data (id, profiles, summary, source) with its vectorised
code attached, and `docs/rules.md` lists them from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from checks.catalog import ALL_PROFILES, Entity, truthy

# "has not submitted the assessment" (seed 001): both statuses before a submission.
NOT_SUBMITTED = ("not_submitted", "in_progress")
# OneRoster scoreStatus of every result we send: statuses are never passed back (seed 000).
FULLY_GRADED = "fully graded"


@dataclass(frozen=True)
class Transform:
    """One catalog transform; `apply` adds or rewrites columns of the candidate frame."""

    id: str
    entity: Entity
    profiles: tuple[str, ...]
    summary: str
    sources: tuple[str, ...]
    apply: Callable[[pd.DataFrame], pd.DataFrame] | None = None


def _floor_points_possible(f: pd.DataFrame) -> pd.DataFrame:
    points = f["points_possible"].astype("float64")
    maximum = np.floor(points) if f.attrs["profile"] == "infinite_campus" else points
    return f.assign(result_value_max=maximum)


def _missing_is_zero(f: pd.DataFrame) -> pd.DataFrame:
    applies = (
        (f.attrs["profile"] == "skyward")
        & truthy(f["due_passed"])
        & f["status"].isin(NOT_SUBMITTED).fillna(False).astype(bool)
    )
    points = f["points_earned"].astype("float64")
    return f.assign(missing_is_zero=applies, score=points.where(~applies, 0.0))


TRANSFORMS: tuple[Transform, ...] = (
    Transform(
        id="floor_points_possible", entity="line_item", profiles=("infinite_campus",),
        summary="points possible that is not a whole number is sent rounded down (the "
                "`fractional_points` warning says so); other profiles send it as is",
        sources=("003",), apply=_floor_points_possible,
    ),
    Transform(
        id="missing_is_zero", entity="result", profiles=("skyward",),
        summary="due date passed and the student has not submitted (`not_submitted` or "
                "`in_progress`): send a score of 0",
        sources=("001",), apply=_missing_is_zero,
    ),
    Transform(
        id="statuses_not_passed_back", entity="result", profiles=ALL_PROFILES,
        summary="no missing / late / excluded flags: every result is a score with "
                f"scoreStatus `{FULLY_GRADED}`",
        sources=("000",),
    ),
    Transform(
        id="weighting_not_transferred", entity="result", profiles=ALL_PROFILES,
        summary="weighting is not transferred (teachers weight in the SIS)",
        sources=("001",),
    ),
)


def apply_transforms(frame: pd.DataFrame, entity: Entity) -> pd.DataFrame:
    """Every transform of an entity, in catalog order (each decides per profile itself, so
    the columns it adds exist under every profile)."""
    for transform in TRANSFORMS:
        if transform.entity == entity and transform.apply is not None:
            frame = transform.apply(frame)
    return frame
