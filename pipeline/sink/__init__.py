"""The sink: validated line items and results written to the SIS, delta, idempotent, resumable.

Public API (the asset in assets/sink and the CLI's `passback run --dry-run` use these):
    plan_sync(config, grading_period, connect=...) -> SyncPlan
    run_sync(config, grading_period, connect=..., dry_run=None, client=None) -> SyncReport
        (client: a writer, e.g. `OneRosterResource(...).writer(config)`; the default one
        otherwise)
The run tags for the one-SIS-writer-per-district limit are graph names:
`pipeline.graph.sis_writer_tags`. See docs/sink.md.
"""

from pipeline.sink.plan import Action, SyncPlan, closed_grading_periods
from pipeline.sink.run import SyncReport, plan_sync, run_sync

__all__ = ["Action", "SyncPlan", "SyncReport", "closed_grading_periods", "plan_sync", "run_sync"]
