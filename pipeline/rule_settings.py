"""What one rules run needs from a district's configuration, plus the as-of date.

Shared by the candidates SQL (assets/transform) and the blocking checks (checks/), so it lives
beside the configuration it is read from rather than in either of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pipeline.config import DistrictConfig


@dataclass(frozen=True)
class RunSettings:
    """What one rules run needs from the district configuration, plus the as-of date."""

    district: str
    time_zone: str
    profile: str
    effective_date: date
    as_of: date
    closed_listed: tuple[str, ...]
    use_sis_grading_window: bool
    close_days_after_end: int | None
    categories: dict[str, str | None]

    @classmethod
    def from_config(cls, config: DistrictConfig, as_of: date) -> RunSettings:
        """Settings of a configured district."""
        closed = config.passback.closed_grading_periods
        return cls(
            district=config.district, time_zone=config.time_zone, profile=config.sis.profile,
            effective_date=config.passback.effective_date, as_of=as_of,
            closed_listed=tuple(closed.listed),
            use_sis_grading_window=closed.use_sis_grading_window,
            close_days_after_end=closed.close_days_after_end,
            categories=dict(config.categories),
        )

    def params(self) -> dict[str, object]:
        """Named SQL parameters."""
        return {
            "district": self.district, "zone": self.time_zone, "as_of": self.as_of,
            "listed": list(self.closed_listed), "use_window": self.use_sis_grading_window,
            "close_days": self.close_days_after_end,
        }

    def frame_attrs(self) -> dict[str, object]:
        """Run-wide facts the rule checks read from `frame.attrs`."""
        return {"profile": self.profile, "as_of": self.as_of,
                "effective_date": self.effective_date, "district": self.district}
