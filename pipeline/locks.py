"""Claims left behind by a dead `passback run`, found and released before the next run starts.

`passback run` executes its jobs in its own process (`execute_in_process`). While a step runs it
holds a slot of its Dagster pool (`duckdb_warehouse`, limit 1). A process killed
mid-step (SIGKILL, OOM, a reboot) never reports its run finished, so the slot stays claimed
and every later run waits for it forever, silently. Each run therefore carries the host and
pid of the process executing it (`pipeline.graph.owner_tags`); a run still marked started
whose process no longer exists on this host is marked failed and its pool slots are freed,
with a line saying so.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import dagster as dg

from pipeline.graph import HOST_TAG, PID_TAG

_UNFINISHED = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING,
               dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.CANCELING]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def release_dead_runs(instance: dg.DagsterInstance, log: Callable[[str], None]) -> list[str]:
    """Mark failed the unfinished runs whose process on this host is gone; free their slots.

    Only runs started by `passback run` on this host carry the tags, so runs of the Dagster
    daemon, or of another machine sharing the instance, are never touched.
    """
    released = []
    runs = instance.get_runs(filters=dg.RunsFilter(
        statuses=_UNFINISHED, tags={HOST_TAG: socket.gethostname()}))
    for run in runs:
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if not pid or pid == os.getpid() or _alive(pid):
            continue
        instance.report_run_failed(run, message=f"the process running it (pid {pid}) is gone; "
                                                "marked failed so its pool slots are freed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log(f"run {run.run_id} ({run.job_name}) died with its process (pid {pid}); marked it "
            "failed and freed its pool slots")
        released.append(run.run_id)
    return released
