"""When the extract runs in full: a weekly full refresh of every SIS table, per district.

Incremental loads only see what the SIS reports as changed; a record an SIS deletes outright
(rather than marking `tobedeleted`) is only noticed by a full reload. Sunday 02:00 UTC is
outside school hours in every US time zone and before Monday's grading.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from pipeline.graph import SIS_FULL_REFRESH_JOB, SIS_GROUP, full_refresh_run_config

FULL_REFRESH_CRON = "0 2 * * 0"


def build_full_refresh_schedule(partitions_def: dg.PartitionsDefinition
                                ) -> tuple[dg.UnresolvedAssetJobDefinition, dg.ScheduleDefinition]:
    """The weekly full-refresh job and its schedule (one run per district partition)."""
    # The job's partitions come from the selected assets (district).
    job = dg.define_asset_job(SIS_FULL_REFRESH_JOB,
                              selection=dg.AssetSelection.groups(SIS_GROUP),
                              description="Reload every SIS table of a district in full.")

    @dg.schedule(name="sis_weekly_full_refresh", job=job, cron_schedule=FULL_REFRESH_CRON,
                 execution_timezone="UTC",
                 default_status=dg.DefaultScheduleStatus.STOPPED,
                 description="Every Sunday 02:00 UTC, each district's SIS tables read in full "
                             "(not just changes): records the SIS deleted outright, or lost, "
                             "are noticed, and the next passback run restores what Passback "
                             "wrote. Starts stopped.")
    def sis_weekly_full_refresh(context: dg.ScheduleEvaluationContext
                                ) -> Iterator[dg.RunRequest]:
        """One full-refresh run per district, keyed by the scheduled date."""
        day = context.scheduled_execution_time.date().isoformat()
        for district in partitions_def.get_partition_keys():
            yield dg.RunRequest(run_key=f"{district}-{day}", partition_key=district,
                                run_config=full_refresh_run_config())

    return job, sis_weekly_full_refresh
