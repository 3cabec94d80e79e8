"""Per-SIS behaviour of the sandbox: one table, one row per profile.

Every fact that differs between Infinite Campus, Skyward and a plain OneRoster
provider lives here, so adding a profile is one entry and the rest of the
sandbox only asks questions of a `SISProfile`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FractionalPoints = Literal["accept", "floor", "reject"]


@dataclass(frozen=True)
class SISProfile:
    """What one SIS enforces and how it pages."""

    name: str
    # Largest `limit` honoured; a larger request is clamped, as real providers do.
    max_page_size: int
    # OneRoster's documented default when the client sends no `limit`.
    default_page_size: int
    # Infinite Campus demands a vendor key:secret on OneRoster 1.2 gradebook calls.
    requires_vendor_header: bool
    # What happens to a line item whose resultValueMax is not a whole number.
    fractional_points: FractionalPoints
    # Titles of this many characters or more are refused (None: no limit).
    title_max_chars: int | None
    # The due date must fall within the class's term dates.
    due_date_within_term: bool
    # gradingPeriod academicSessions carry metadata.gradingWindowOpen.
    exposes_grading_window: bool


PROFILES: dict[str, SISProfile] = {
    profile.name: profile
    for profile in (
        SISProfile(
            name="infinite_campus",
            max_page_size=1000,
            default_page_size=100,
            requires_vendor_header=True,
            fractional_points="floor",
            title_max_chars=None,
            due_date_within_term=True,
            exposes_grading_window=True,
        ),
        SISProfile(
            name="skyward",
            max_page_size=500,
            default_page_size=100,
            requires_vendor_header=False,
            fractional_points="reject",
            title_max_chars=50,
            due_date_within_term=False,
            exposes_grading_window=False,
        ),
        SISProfile(
            name="oneroster",
            max_page_size=10_000,
            default_page_size=100,
            requires_vendor_header=False,
            fractional_points="accept",
            title_max_chars=None,
            due_date_within_term=False,
            exposes_grading_window=False,
        ),
    )
}


def get_profile(name: str) -> SISProfile:
    """Return the profile called `name`, or raise ValueError listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown sandbox profile {name!r}; choose one of {known}") from None
