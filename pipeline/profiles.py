"""SIS profiles: what each kind of SIS enforces, in one table.

A new SIS is a new entry here plus a district YAML; the rule catalog in `checks/` names the
profiles each rule applies to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProfileName = Literal["infinite_campus", "skyward", "oneroster"]


@dataclass(frozen=True)
class Profile:
    """Facts about one kind of SIS that the pipeline must respect."""

    name: ProfileName
    label: str
    # Infinite Campus asks vendors for at most 5 concurrent requests (seed 003).
    max_concurrency: int
    # 1.2 gradebook calls need the `x-vendor-authorization: key:secret` header (seed 002).
    vendor_header_on_v1p2_gradebook: bool
    # The SIS exposes whether a grading period's grading window is open (seed 003).
    exposes_grading_window: bool
    # Local time of the nightly run: after the SIS refreshes what its OneRoster API serves.
    # Infinite Campus rebuilds its OneRoster class and student cache from 4:10 local (seed
    # 003), so a run at 02:00 would read a roster up to a day old.
    nightly_time: str = "02:00"


PROFILES: dict[str, Profile] = {
    "infinite_campus": Profile(
        name="infinite_campus",
        label="Infinite Campus",
        max_concurrency=5,
        vendor_header_on_v1p2_gradebook=True,
        exposes_grading_window=True,
        nightly_time="05:00",
    ),
    "skyward": Profile(
        name="skyward",
        label="Skyward",
        max_concurrency=10,
        vendor_header_on_v1p2_gradebook=False,
        exposes_grading_window=False,
    ),
    "oneroster": Profile(
        name="oneroster",
        label="OneRoster SIS",
        max_concurrency=10,
        vendor_header_on_v1p2_gradebook=False,
        exposes_grading_window=False,
    ),
}

# The 12 Otus assessment types; the district maps each to an SIS category (seed 001).
OTUS_ASSESSMENT_TYPES: tuple[str, ...] = (
    "Test",
    "Quiz",
    "Homework",
    "Classwork",
    "Project",
    "Lab",
    "Essay",
    "Presentation",
    "Performance Task",
    "Benchmark",
    "Exit Ticket",
    "Participation",
)
