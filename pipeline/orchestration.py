"""Jobs, schedules and sensors: how the graph runs every night and on demand.

- `extract` (per district): the Otus export and the SIS roster and gradebook.
- `passback` (per district and grading period): rules, quality report and the SIS sink.
- `nightly_<district>`: the district's extract at its nightly time, in its own time zone
  (`schedule.nightly_time`, or its SIS profile's default: after the SIS refreshes the roster
  its OneRoster API serves; Infinite Campus 05:00, others 02:00).
- `grading_period_sensor`: adds grading periods to the dynamic partitions as the SIS extract
  reports them, and after a nightly extract succeeds requests `passback` for each open one.

Sensors read Dagster's event log only: they open no DuckDB connection and call no SIS.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from typing import Any

import dagster as dg

from pipeline.config import DistrictConfig, load_districts
from pipeline.grading_periods import GRADING_PERIODS_METADATA, GradingPeriod
from pipeline.graph import (
    ACADEMIC_SESSIONS,
    EXTRACT_GROUPS,
    EXTRACT_JOB,
    GRADING_PERIODS,
    PASSBACK_GROUPS,
    PASSBACK_JOB,
    TRIGGER_TAG,
    district_grading_period_partitions,
    dry_run_tags,
    grading_period_tags,
    passback_partition,
    passback_partition_tags,
    sis_writer_tags,
)

# Steps retry what may pass on a second try (the SIS down for minutes after the client's own
# retries, a warehouse lock). Deterministic failures (a bad export, a misconfigured district)
# raise dg.Failure(allow_retries=False); rule rejections never fail a step at all.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL,
                                 jitter=dg.Jitter.PLUS_MINUS)


class _FirstLine(logging.Formatter):
    """Time, level and the first line of a message: a failure's stack trace stays in the run's
    logs (the UI, the event log), not on the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.splitlines()[0] if text else text


@dg.logger(config_schema={"log_level": dg.Field(str, is_required=False, default_value="DEBUG"),
                          "name": dg.Field(str, is_required=False, default_value="dagster")},
           description="The terminal: one line per message (first line only), stderr.")
def terminal_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    """Dagster's console logger without stack traces: the run's event log keeps them."""
    config = init_context.logger_config
    logger = logging.Logger(config["name"], level=config["log_level"].upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_FirstLine("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    return logger


extract_job = dg.define_asset_job(
    EXTRACT_JOB,
    selection=dg.AssetSelection.groups(*EXTRACT_GROUPS),
    op_retry_policy=TRANSIENT_RETRY,
    description="Extract one district's Otus export and SIS roster and gradebook into DuckDB.",
)

passback_job = dg.define_asset_job(
    PASSBACK_JOB,
    selection=dg.AssetSelection.groups(*PASSBACK_GROUPS),
    config=dg.PartitionedConfig(
        partitions_def=district_grading_period_partitions,
        run_config_for_partition_key_fn=lambda _key: {},
        tags_for_partition_key_fn=passback_partition_tags,
    ),
    op_retry_policy=TRANSIENT_RETRY,
    description="Apply the passback rules to one district and grading period, write the "
    "quality report, and sync what passed to the SIS.",
)


def nightly_schedules(districts: dict[str, DistrictConfig]) -> list[dg.ScheduleDefinition]:
    """One schedule per district: its extract at its nightly time in the district's zone."""
    schedules = []
    for district, config in sorted(districts.items()):
        hour, minute = config.nightly_time

        def _request(context: dg.ScheduleEvaluationContext, district: str = district) -> Any:
            return dg.RunRequest(
                partition_key=district,
                tags={TRIGGER_TAG: "nightly"},
                run_key=f"nightly-{district}-{context.scheduled_execution_time:%Y-%m-%d}",
            )

        schedules.append(dg.ScheduleDefinition(
            name=f"nightly_{district.replace('-', '_')}",
            job=extract_job,
            cron_schedule=f"{minute} {hour} * * *",
            execution_timezone=config.time_zone,
            execution_fn=_request,
            description=f"Nightly passback for {config.name or district}: extract the Otus "
            f"export and the SIS (changes only) at {hour:02d}:{minute:02d} {config.time_zone}; "
            "the grading_period_sensor then runs passback (rules, quality report, SIS sync) "
            "for each open grading period. Starts stopped: turn it on per district.",
            default_status=dg.DefaultScheduleStatus.STOPPED,
        ))
    return schedules


def _grading_periods_from(event: dg.EventLogRecord) -> list[GradingPeriod]:
    materialization = event.asset_materialization
    value = materialization.metadata.get(GRADING_PERIODS_METADATA) if materialization else None
    data = value.value if value is not None else []
    return [GradingPeriod.from_json(item) for item in data or []]


def _new_sessions(instance: dg.DagsterInstance, after: int) -> list[dg.EventLogRecord]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=ACADEMIC_SESSIONS, after_storage_id=after), limit=100,
        ascending=True,
    )
    return list(records.records)


@dg.sensor(
    name="grading_period_sensor",
    job=passback_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds each district's SIS grading periods to the `grading_period` partitions as "
    "the SIS extract reports them; after a nightly extract, requests `passback` for every "
    "open grading period of that district.",
)
def grading_period_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Discover grading periods and fan a nightly extract out to its open grading periods."""
    after = int(context.cursor or 0)
    known = set(context.instance.get_dynamic_partitions(GRADING_PERIODS))
    new_keys: list[str] = []
    run_requests: list[dg.RunRequest] = []
    districts: dict[str, DistrictConfig] | None = None  # read once a tick, only when needed
    for event in _new_sessions(context.instance, after):
        after = max(after, event.storage_id)
        district = event.partition_key
        grading_periods = _grading_periods_from(event)
        for grading_period in grading_periods:
            if grading_period.partition_key not in known:
                known.add(grading_period.partition_key)
                new_keys.append(grading_period.partition_key)
        run = context.instance.get_run_by_id(event.run_id)
        if not district or run is None or run.tags.get(TRIGGER_TAG) != "nightly":
            continue
        districts = load_districts() if districts is None else districts
        if district not in districts:
            context.log.warning(f"district {district!r} extracted nightly but is no longer in the "
                                "mappings folder: no passback run requested for it")
            continue
        run_requests += _nightly_requests(districts[district], grading_periods, event.run_id)
    return dg.SensorResult(
        run_requests=run_requests,
        cursor=str(after),
        dynamic_partitions_requests=[
            grading_period_partitions_request(new_keys)] if new_keys else [],
    )


def grading_period_partitions_request(keys: list[str]) -> dg.AddDynamicPartitionsRequest:
    """Add grading-period keys to the dynamic partitions."""
    return dg.AddDynamicPartitionsRequest(partitions_def_name=GRADING_PERIODS,
                                          partition_keys=sorted(set(keys)))


def _nightly_requests(config: DistrictConfig, grading_periods: list[GradingPeriod],
                      extract_run_id: str) -> list[dg.RunRequest]:
    today = datetime.now(tz=config.zone).date()
    return [
        dg.RunRequest(
            run_key=f"{extract_run_id}-{grading_period.partition_key}",
            partition_key=passback_partition(config.district, grading_period.partition_key),
            tags={TRIGGER_TAG: "nightly", **sis_writer_tags(config.district),
                  **dry_run_tags(config.passback.dry_run), **grading_period_tags(False)},
        )
        for grading_period in grading_periods if grading_period.is_open_on(today)
    ]
