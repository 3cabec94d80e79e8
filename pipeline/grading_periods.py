"""Grading periods: the one definition of closed and open that rules, sink, CLI and the
scheduler share.

Closed (../shared/passback-rules.md): listed by the district, reported closed by the SIS's
grading window (when the district honours it), or past the district's close-after-end policy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import dagster as dg
import duckdb

from pipeline.config import DistrictConfig
from pipeline.graph import grading_period_key

# The materialization metadata key that carries a district's grading periods to the scheduler.
GRADING_PERIODS_METADATA = "grading_periods"

# A SQL predicate over sis.academic_sessions columns; parameters from `closed_params`.
CLOSED_PREDICATE = """(list_contains($listed, sourced_id)
       OR ($use_window AND grading_window_open IS FALSE)
       OR ($close_days IS NOT NULL AND end_date + CAST($close_days AS INTEGER) < $as_of))"""

_CATALOG_SQL = f"""
SELECT sourced_id, title, start_date, end_date, parent_sourced_id,
       {CLOSED_PREDICATE} AS closed
FROM sis.academic_sessions
WHERE district = $district AND type = 'gradingPeriod' AND coalesce(status, 'active') = 'active'
ORDER BY start_date, sourced_id
"""


def closed_params(config: DistrictConfig, as_of: date) -> dict[str, Any]:
    """The parameters CLOSED_PREDICATE needs, from the district's configuration."""
    closed = config.passback.closed_grading_periods
    return {"listed": list(closed.listed), "use_window": closed.use_sis_grading_window,
            "close_days": closed.close_days_after_end, "as_of": as_of}


@dataclass(frozen=True)
class GradingPeriod:
    """One SIS grading period as the operators see it."""

    sourced_id: str
    partition_key: str
    title: str | None
    start_date: date | None
    end_date: date | None
    closed: bool

    def is_open_on(self, as_of: date) -> bool:
        """Open and already started: the periods a nightly run writes."""
        return not self.closed and (self.start_date is None or self.start_date <= as_of)

    def as_json(self) -> dict[str, Any]:
        """A JSON-safe form, for run metadata and the scheduler."""
        data = asdict(self)
        for name in ("start_date", "end_date"):
            data[name] = data[name].isoformat() if data[name] else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GradingPeriod:
        """The inverse of `as_json`."""
        dates = {name: date.fromisoformat(data[name]) if data.get(name) else None
                 for name in ("start_date", "end_date")}
        return cls(sourced_id=data["sourced_id"], partition_key=data["partition_key"],
                   title=data.get("title"), closed=bool(data["closed"]), **dates)


def grading_periods(conn: duckdb.DuckDBPyConnection, config: DistrictConfig,
                    as_of: date) -> list[GradingPeriod]:
    """Every active grading period of a district in the warehouse, with its state on `as_of`."""
    params = {"district": config.district, **closed_params(config, as_of)}
    return [
        GradingPeriod(sourced_id=row[0], partition_key=grading_period_key(row[0]), title=row[1],
                      start_date=row[2], end_date=row[3], closed=bool(row[5]))
        for row in conn.execute(_CATALOG_SQL, params).fetchall()
    ]


def grading_periods_metadata(known: list[GradingPeriod], as_of: date) -> dict[str, Any]:
    """Metadata the SIS academic-sessions extract attaches for the scheduler and the UI."""
    return {
        GRADING_PERIODS_METADATA: dg.MetadataValue.json([p.as_json() for p in known]),
        "open_grading_periods": dg.MetadataValue.text(
            ", ".join(p.sourced_id for p in known if p.is_open_on(as_of)) or "none"),
    }
