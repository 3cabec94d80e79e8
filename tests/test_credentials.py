"""Credential care: a warning 14 days before a district's SIS credentials expire."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import yaml

from checks.credentials import expiring
from pipeline.config import DistrictConfig

DEMO = yaml.safe_load((Path(__file__).resolve().parents[1] / "mappings" / "demo.yaml").read_text())


def district(expires: str | None) -> DistrictConfig:
    data = copy.deepcopy(DEMO)
    data["sis"]["credential_expires_on"] = expires
    return DistrictConfig.model_validate(data)


def test_warns_within_fourteen_days_and_after_expiry() -> None:
    today = date(2027, 7, 20)
    found = expiring({"soon": district("2027-08-03"), "later": district("2027-08-04"),
                      "gone": district("2027-07-01"), "unknown": district(None)}, today)
    assert found == {"soon": 14, "gone": -19}
