"""Credential care: a warning 14 days before a district's SIS credentials expire.

Infinite Campus OAuth 1 keys expire a year after they are made (seed 003: messages go out 7
and 14 days ahead); a district records the date as `sis.credential_expires_on`.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from pipeline.config import DistrictConfig
from pipeline.resources import Districts

WARN_DAYS = 14


def expiring(districts: dict[str, DistrictConfig], today: date,
             warn_days: int = WARN_DAYS) -> dict[str, int]:
    """Districts whose credentials expire within `warn_days` (or already have): days left."""
    found = {}
    for district, config in sorted(districts.items()):
        expires = config.sis.credential_expires_on
        if expires is not None and (expires - today).days <= warn_days:
            found[district] = (expires - today).days
    return found


@dg.asset_check(
    asset=dg.AssetKey(["sis", "orgs"]),
    name="credentials_not_expiring",
    description=f"Warns {WARN_DAYS} days before a district's SIS credentials expire "
    "(`sis.credential_expires_on`), so they are renewed before passback stops.",
    blocking=False,
)
def credentials_not_expiring(districts: Districts) -> dg.AssetCheckResult:
    """WARN when any district's credentials expire within 14 days."""
    configs = districts.all()
    soon = expiring(configs, date.today())
    lines = [f"{d}: {'expired' if n < 0 else f'expires in {n} day(s)'} "
             f"({configs[d].sis.credential_expires_on})" for d, n in soon.items()]
    return dg.AssetCheckResult(
        passed=not soon,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(lines) or "no credentials expire within "
        f"{WARN_DAYS} days",
        metadata={"expiring": dg.MetadataValue.json(
            {d: str(configs[d].sis.credential_expires_on) for d in soon})},
    )
