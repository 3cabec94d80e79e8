"""Partitions: district (static, from mappings/) and grading period (dynamic, from the SIS)."""

from __future__ import annotations

import re

import dagster as dg

from pipeline.config import load_districts

GRADING_PERIODS = "grading_period"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def district_keys() -> list[str]:
    """District ids from the mappings folder (read when the code location loads)."""
    return sorted(load_districts())


district_partitions = dg.StaticPartitionsDefinition(district_keys())
grading_period_partitions = dg.DynamicPartitionsDefinition(name=GRADING_PERIODS)
district_grading_period_partitions = dg.MultiPartitionsDefinition(
    {"district": district_partitions, GRADING_PERIODS: grading_period_partitions}
)


def grading_period_key(sourced_id: str) -> str:
    """A partition key for a grading period sourcedId, safe in the UI and CLI (no `|` or `,`)."""
    return _UNSAFE.sub("_", sourced_id).strip("_") or "_"
