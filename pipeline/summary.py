"""What `passback run` prints: what passed back, what did not and why, and the report."""

from __future__ import annotations

from pipeline.run import DistrictOutcome, PeriodOutcome

RULES, SINK = "passback/rejections", "passback/sis_sync"


def _period_lines(period: PeriodOutcome) -> list[str]:
    gp = period.grading_period
    state = "closed (report only)" if gp.closed else "open"
    lines = [f"  {gp.sourced_id} {gp.title or ''} [{state}]: "
             f"{'ok' if period.success else 'FAILED'} (run {period.run_id})"]
    if not period.metadata:
        return [*lines, "    nothing materialized: see the run's logs in the Dagster UI"]
    line_items = period.value("passback/line_items", "dagster/row_count", 0)
    item_candidates = period.value("passback/line_items", "candidates", 0)
    results = period.value("passback/results", "dagster/row_count", 0)
    result_candidates = period.value("passback/results", "candidates", 0)
    lines.append(f"    rules: {line_items} of {item_candidates} line items and {results} of "
                 f"{result_candidates} results pass back; "
                 f"{period.value(RULES, 'rejects', 0)} rejections, "
                 f"{period.value(RULES, 'warnings', 0)} warnings")
    if SINK in period.metadata:
        dry_run = period.value(SINK, "dry_run")
        verb, count = ("would send", period.value(SINK, "planned", 0)) if dry_run else (
            "sent", period.value(SINK, "sent", 0))
        lines.append(
            f"    SIS: {verb} {count}"
            f", unchanged {period.value(SINK, 'unchanged', 0)}, refused by the SIS "
            f"{period.value(SINK, 'refused', 0)}, failed {period.value(SINK, 'failed', 0)}, "
            f"deleted {period.value(SINK, 'deleted', 0)} "
            f"({period.value(SINK, 'rate_per_second', 0)} requests/s)")
    report = period.value("passback/quality_report", "report_path")
    if report:
        lines.append(f"    quality report: {report}")
    return lines


def print_summary(outcome: DistrictOutcome) -> None:
    """Print one district's outcome."""
    print(f"\n{outcome.district} as of {outcome.as_of}: "
          f"{'succeeded' if outcome.success else 'FAILED'}")
    print(f"  extract: {'ok' if outcome.extract_success else 'FAILED'} "
          f"(run {outcome.extract_run_id})")
    for period in outcome.periods:
        print("\n".join(_period_lines(period)))
    if outcome.skipped:
        print("  not run today (closed, or not started yet): "
              + ", ".join(p.sourced_id for p in outcome.skipped))
