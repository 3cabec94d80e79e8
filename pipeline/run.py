"""`passback run`: extract, then rules and sink for each open grading period, through Dagster.

Runs go through the project's Dagster instance, so they show in the UI beside scheduled ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import dagster as dg

from pipeline.config import DistrictConfig, load_districts
from pipeline.grading_periods import GradingPeriod, grading_periods
from pipeline.locks import owner_tags, release_dead_runs
from pipeline.orchestration import TRIGGER_TAG
from pipeline.partitions import GRADING_PERIODS
from pipeline.sink import sis_writer_tags
from pipeline.warehouse import connect

Log = Callable[[str], None]
# The console shows progress, not Dagster's step-by-step debug events (those stay in the UI).
QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@dataclass
class PeriodOutcome:
    """What one grading period's passback run did."""

    grading_period: GradingPeriod
    run_id: str
    success: bool
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)

    def value(self, asset: str, key: str, default: Any = None) -> Any:
        """A metadata value of one asset's materialization (plain Python value)."""
        entry = self.metadata.get(asset, {}).get(key)
        return default if entry is None else getattr(entry, "value", entry)


@dataclass
class DistrictOutcome:
    """What `passback run` did for one district."""

    district: str
    as_of: date
    extract_run_id: str
    extract_success: bool
    periods: list[PeriodOutcome] = field(default_factory=list)
    skipped: list[GradingPeriod] = field(default_factory=list)

    @property
    def success(self) -> bool:
        """Every run it started succeeded."""
        return self.extract_success and all(p.success for p in self.periods)


def _materialized(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        found[materialization.asset_key.to_user_string()] = dict(materialization.metadata)
    return found


def _select(periods: list[GradingPeriod], wanted: str | None, as_of: date) -> list[GradingPeriod]:
    if wanted is None:
        return [p for p in periods if p.is_open_on(as_of)]
    chosen = [p for p in periods if wanted in (p.sourced_id, p.partition_key)]
    if not chosen:
        known = ", ".join(p.sourced_id for p in periods) or "none"
        raise ValueError(f"grading period {wanted!r} is not in the SIS; known: {known}")
    return chosen


def run_district(
    district: str,
    *,
    grading_period: str | None = None,
    as_of: date | None = None,
    dry_run: bool = False,
    full_refresh: bool = False,
    instance: dg.DagsterInstance | None = None,
    log: Log = print,
) -> DistrictOutcome:
    """Extract one district, then run passback for its open grading periods (or the one named).

    A named grading period that is closed still runs: it extracts and reports, and the sink
    never writes a closed period.
    """
    from assets.extract.schedules import full_refresh_run_config
    from pipeline.definitions import defs  # loads the code location: only when running
    from pipeline.instance import instance as project_instance

    instance = instance or project_instance()
    config: DistrictConfig = load_districts()[district]
    as_of = as_of or datetime.now(tz=config.zone).date()
    # A run killed mid-step keeps its pool slot claimed: release it, or this run waits forever.
    release_dead_runs(instance, log)
    log(f"{district}: extracting the Otus export and the SIS ({config.sis.profile}, "
        f"OneRoster {config.sis.oneroster_version})")
    extract_config: dict[str, Any] = {**QUIET, **(full_refresh_run_config() if full_refresh
                                                 else {})}
    extract = defs.resolve_job_def("extract").execute_in_process(
        partition_key=district, instance=instance, run_config=extract_config,
        tags={TRIGGER_TAG: "manual", **owner_tags()}, raise_on_error=False)
    outcome = DistrictOutcome(district, as_of, extract.run_id, extract.success)
    if not extract.success:
        log(f"{district}: extract failed (run {extract.run_id}); see the run's logs")
        return outcome
    with connect() as conn:
        periods = grading_periods(conn, config, as_of)
    instance.add_dynamic_partitions(GRADING_PERIODS, [p.partition_key for p in periods])
    chosen = _select(periods, grading_period, as_of)
    outcome.skipped = [p for p in periods if p not in chosen]
    for period in chosen:
        outcome.periods.append(_run_period(defs, instance, config, period, as_of, dry_run, log))
    return outcome


def _run_period(defs: dg.Definitions, instance: dg.DagsterInstance, config: DistrictConfig,
                period: GradingPeriod, as_of: date, dry_run: bool, log: Log) -> PeriodOutcome:
    state = "closed: report only, no SIS writes" if period.closed else "open"
    log(f"{config.district}: grading period {period.sourced_id} ({period.title}, {state})")
    # Without --dry-run the district's own passback.dry_run setting decides.
    sink_config: dict[str, Any] = {"as_of": as_of.isoformat()}
    if dry_run:
        sink_config["dry_run"] = True
    run_config = {**QUIET, "ops": {
        "passback_rules": {"config": {"as_of": as_of.isoformat()}},
        "passback__sis_sync": {"config": sink_config},
    }}
    result = defs.resolve_job_def("passback").execute_in_process(
        partition_key=dg.MultiPartitionKey(
            {"district": config.district, GRADING_PERIODS: period.partition_key}),
        instance=instance, run_config=run_config, raise_on_error=False,
        tags={TRIGGER_TAG: "manual", **sis_writer_tags(config.district), **owner_tags()},
    )
    return PeriodOutcome(period, result.run_id, result.success, _materialized(result))
