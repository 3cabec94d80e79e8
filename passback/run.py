"""`passback run`: extract, then rules and sink for each open grading period, through Dagster.

Runs go through the project's Dagster instance, so they show in the UI beside scheduled ones.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from pipeline.config import DistrictConfig, load_districts
from pipeline.grading_periods import GradingPeriod, grading_periods
from pipeline.graph import (
    EXTRACT_JOB,
    GRADING_PERIODS,
    PASSBACK_JOB,
    SIS_SYNC,
    TRIGGER_TAG,
    dry_run_tags,
    full_refresh_run_config,
    grading_period_tags,
    op_name,
    owner_tags,
    passback_partition,
    passback_run_config,
    sis_writer_tags,
)
from pipeline.locks import release_dead_runs
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
    problem: str | None = None  # why the district stopped early, in one line

    @property
    def success(self) -> bool:
        """Every run it started succeeded."""
        return self.extract_success and all(p.success for p in self.periods)


# An SIS that does not accept a TCP connection within this is unreachable; asked three times,
# a few seconds apart, so a blip does not stop a night (well under a minute in all).
CONNECT_TIMEOUT_SECONDS = 5.0
CONNECT_ATTEMPTS = 3
CONNECT_PAUSE_SECONDS = 2.0


def _endpoints(config: DistrictConfig) -> list[str]:
    """The SIS URLs a run talks to: the OneRoster base and (OAuth 2) the token endpoint."""
    urls = [config.sis.base_url]
    token_url = getattr(config.sis.auth, "token_url", None)
    if token_url and urlsplit(token_url).netloc != urlsplit(config.sis.base_url).netloc:
        urls.append(token_url)
    return urls


def unreachable_sis(config: DistrictConfig) -> str | None:
    """None when every SIS host accepts a TCP connection, else one line naming the URL and
    why. Only a connection: no request, no credential, no token (the run's one token is
    fetched inside the run), so an SIS that is down stops the run in seconds, not after the
    client's and the step's retries (minutes)."""
    for url in _endpoints(config):
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        reason = ""
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                with socket.create_connection((parts.hostname or "", port),
                                              timeout=CONNECT_TIMEOUT_SECONDS):
                    reason = ""
                    break
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                if attempt + 1 < CONNECT_ATTEMPTS:
                    time.sleep(CONNECT_PAUSE_SECONDS)
        if reason:
            return (f"the SIS at {url} cannot be reached ({reason.lower()}, "
                    f"{CONNECT_ATTEMPTS} tries)")
    return None


# "dagster._core.definitions.events.Failure: " and the like, before an error's own message.
_EXCEPTION_NAME = re.compile(r"^[\w.]+(?:Error|Failure|Exception): ")


def failure_line(result: dg.ExecuteInProcessResult) -> str:
    """What stopped a run, in one line: the first failed step's error (its first line; the
    stack trace stays in the run's logs), and how many steps failed."""
    failures = result.get_step_failure_events()
    if not failures:
        return f"run {result.run_id} failed"
    error = failures[0].step_failure_data.error
    text = (error.message if error else "").strip() or "failed"
    others = len(failures) - 1
    return (f"{_EXCEPTION_NAME.sub('', text.splitlines()[0])} (step {failures[0].step_key}"
            + (f" and {others} other step(s)" if others else "") + ")")


def _materialized(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Each asset's metadata: its materialization's, or its observation's when it only
    observed (a dry run's sink plans and reports without materializing)."""
    found: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_observation_events():
        observation = event.asset_observation_data.asset_observation
        found[observation.asset_key.to_user_string()] = dict(observation.metadata)
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        found[materialization.asset_key.to_user_string()] = dict(materialization.metadata)
    return found


def _select(grading_periods: list[GradingPeriod], grading_period: str | None,
            as_of: date) -> list[GradingPeriod]:
    # `grading_period` as the operator typed it: a sourcedId or a partition key.
    if grading_period is None:
        return [p for p in grading_periods if p.is_open_on(as_of)]
    chosen = [p for p in grading_periods if grading_period in (p.sourced_id, p.partition_key)]
    if not chosen:
        known = ", ".join(p.sourced_id for p in grading_periods) or "none"
        raise ValueError(f"grading period {grading_period!r} is not in the SIS; known: {known}")
    return chosen


def run_district(
    district: str,
    *,
    grading_period: str | None = None,
    as_of: date | None = None,
    dry_run: bool = False,
    full_refresh: bool = False,
    allow_mass_change: bool = False,
    instance: dg.DagsterInstance | None = None,
    log: Log = print,
) -> DistrictOutcome:
    """Extract one district, then run passback for its open grading periods (or the one named).

    A named grading period that is closed still runs: it extracts and reports, and the sink
    never writes a closed period. `allow_mass_change` confirms syncs the mass-change
    safeguard would hold.
    """
    from passback.definitions import defs  # loads the code location: only when running
    from pipeline.instance import instance as project_instance

    instance = instance or project_instance()
    config: DistrictConfig = load_districts()[district]
    as_of = as_of or datetime.now(tz=config.zone).date()
    # A run killed mid-step keeps its pool slot claimed: release it, or this run waits forever.
    release_dead_runs(instance, log)
    problem = unreachable_sis(config)
    if problem:  # said once, by the summary: no run was started
        return DistrictOutcome(district, as_of, "", False, problem=problem)
    log(f"{district}: extracting the Otus export and the SIS ({config.sis.profile}, "
        f"OneRoster {config.sis.oneroster_version})")
    extract_config: dict[str, Any] = {**QUIET, **(full_refresh_run_config() if full_refresh
                                                 else {})}
    extract = defs.resolve_job_def(EXTRACT_JOB).execute_in_process(
        partition_key=district, instance=instance, run_config=extract_config,
        tags={TRIGGER_TAG: "manual", **owner_tags()}, raise_on_error=False)
    outcome = DistrictOutcome(district, as_of, extract.run_id, extract.success)
    if not extract.success:
        outcome.problem = f"the extract failed: {failure_line(extract)}"
        return outcome
    with connect() as conn:
        known = grading_periods(conn, config, as_of)
    instance.add_dynamic_partitions(GRADING_PERIODS, [p.partition_key for p in known])
    chosen = _select(known, grading_period, as_of)
    outcome.skipped = [p for p in known if p not in chosen]
    outcome.periods = [_run_grading_period(defs, instance, config, selected, as_of, dry_run, log,
                                           allow_mass_change) for selected in chosen]
    return outcome


def _run_grading_period(defs: dg.Definitions, instance: dg.DagsterInstance,
                        config: DistrictConfig, grading_period: GradingPeriod, as_of: date,
                        dry_run: bool, log: Log, allow_mass_change: bool = False,
                        ) -> PeriodOutcome:
    state = "closed: report only, no SIS writes" if grading_period.closed else "open"
    log(f"{config.district}: grading period {grading_period.sourced_id} "
        f"({grading_period.title}, {state})")
    # Without --dry-run the district's own passback.dry_run setting decides.
    run_config = {**QUIET, **passback_run_config(as_of, dry_run=dry_run)}
    if allow_mass_change:
        run_config["ops"][op_name(SIS_SYNC)]["config"]["allow_mass_change"] = True
    result = defs.resolve_job_def(PASSBACK_JOB).execute_in_process(
        partition_key=passback_partition(config.district, grading_period.partition_key),
        instance=instance, run_config=run_config, raise_on_error=False,
        tags={TRIGGER_TAG: "manual", **sis_writer_tags(config.district), **owner_tags(),
              **dry_run_tags(dry_run or config.passback.dry_run),
              **grading_period_tags(grading_period.closed)},
    )
    return PeriodOutcome(grading_period, result.run_id, result.success, _materialized(result))
