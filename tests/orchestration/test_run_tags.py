"""The UI tells the truth about a run: a closed grading period's run and a dry run are tagged
(the run list shows tags), whether the CLI launched them or the UI did (the sink tags the run
when it starts), and the sink's metadata says the period is closed."""

from __future__ import annotations

import dagster as dg
import pytest

from passback.run import run_district
from pipeline.graph import (
    DRY_RUN_TAG,
    GRADING_PERIOD_TAG,
    PASSBACK_JOB,
    SIS_SYNC,
    grading_period_key,
    passback_partition,
    passback_run_config,
)
from tests.orchestration.helpers import DISTRICT, District

pytestmark = pytest.mark.slow  # a sandbox and Dagster runs


def test_closed_and_dry_runs_are_tagged(district: District,
                                        instance: dg.DagsterInstance) -> None:
    from passback.definitions import defs

    as_of = district.generated.as_of
    [closed] = district.generated.closed_grading_periods
    outcome = run_district(DISTRICT, grading_period=closed, as_of=as_of, dry_run=True,
                           instance=instance, log=lambda _: None)
    [period] = outcome.periods
    assert period.success and period.grading_period.closed
    tags = instance.get_run_by_id(period.run_id).tags  # type: ignore[union-attr]
    assert tags[GRADING_PERIOD_TAG] == "closed" and tags[DRY_RUN_TAG] == "true"
    assert period.value(SIS_SYNC.to_user_string(), "grading_period_closed") is True

    # Launched as the UI launches a partition, with nothing from the CLI: the sink tags it.
    launched = defs.resolve_job_def(PASSBACK_JOB).execute_in_process(
        partition_key=passback_partition(DISTRICT, grading_period_key(closed)),
        instance=instance, run_config=passback_run_config(as_of, dry_run=True),
        raise_on_error=False)
    assert launched.success
    tags = instance.get_run_by_id(launched.run_id).tags  # type: ignore[union-attr]
    assert tags[GRADING_PERIOD_TAG] == "closed" and tags[DRY_RUN_TAG] == "true"


def test_an_open_period_run_that_sends_is_tagged_open_and_not_dry(
        district: District, instance: dg.DagsterInstance) -> None:
    outcome = run_district(DISTRICT, as_of=district.generated.as_of, instance=instance,
                           log=lambda _: None)
    assert outcome.periods and outcome.success
    for period in outcome.periods:
        tags = instance.get_run_by_id(period.run_id).tags  # type: ignore[union-attr]
        assert tags[GRADING_PERIOD_TAG] == "open" and DRY_RUN_TAG not in tags
