"""What `passback run` prints: what passed back, what did not and why, and the report."""

from __future__ import annotations

import sys

from passback.run import DistrictOutcome, PeriodOutcome
from pipeline.graph import LINE_ITEMS, QUALITY_REPORT, REJECTIONS, RESULTS, SIS_SYNC
from pipeline.sink.run import OUTCOMES

RULES, SINK = REJECTIONS.to_user_string(), SIS_SYNC.to_user_string()


def _grading_period_lines(ran: PeriodOutcome) -> list[str]:
    grading_period = ran.grading_period
    state = "closed (report only)" if grading_period.closed else "open"
    lines = [f"  {grading_period.sourced_id} {grading_period.title or ''} [{state}]: "
             f"{'ok' if ran.success else 'FAILED'} (run {ran.run_id})"]
    if not ran.metadata:
        return [*lines, "    nothing materialized: see the run's logs in the Dagster UI"]
    line_items = ran.value(LINE_ITEMS.to_user_string(), "dagster/row_count", 0)
    item_candidates = ran.value(LINE_ITEMS.to_user_string(), "candidates", 0)
    results = ran.value(RESULTS.to_user_string(), "dagster/row_count", 0)
    result_candidates = ran.value(RESULTS.to_user_string(), "candidates", 0)
    lines.append(f"    rules: {line_items} of {item_candidates} line items and {results} of "
                 f"{result_candidates} results pass back")
    if SINK in ran.metadata:
        dry_run = ran.value(SINK, "dry_run")
        verb, count = ("would send", ran.value(SINK, "planned", 0)) if dry_run else (
            "sent", ran.value(SINK, "sent", 0))
        lines.append(
            f"    SIS: {verb} {count}"
            f", unchanged {ran.value(SINK, 'unchanged', 0)}, refused by the SIS "
            f"{ran.value(SINK, 'refused', 0)}, failed {ran.value(SINK, 'failed', 0)}, "
            f"deleted {ran.value(SINK, 'deleted', 0)} "
            f"({ran.value(SINK, 'rate_per_second', 0)} requests/s)")
        reconciled = [f"{ran.value(SINK, f'planned_{action}', 0)} {said}" for action, said in (
            ("restore", "restored (the SIS had lost them)"),
            ("overwrite", "edited in the SIS and overwritten"),
            ("kept", "kept as the SIS holds them")) if ran.value(SINK, f"planned_{action}", 0)]
        if reconciled:
            lines.append(f"    read back from the SIS: {', '.join(reconciled)}")
        lines.append(_accounted_line(ran))
    report = ran.value(QUALITY_REPORT.to_user_string(), "report_path")
    if report:
        lines.append(_report_line(ran))
        lines.append(f"    quality report: {report}")
    return lines


# The report's headline categories (checks/report), in the order a teacher acts on them.
_REPORT_COUNTS = (("to_fix", "for teachers to fix"), ("refused_by_the_sis", "refused by the SIS"),
                  ("waiting_on_a_refused_line_item", "waiting on a refused line item"),
                  ("not_ready", "not ready yet"))


def _report_line(ran: PeriodOutcome) -> str:
    """What the report asks of people, as its headline counts it (each record once)."""
    report = QUALITY_REPORT.to_user_string()
    if ran.value(report, "closed", False):
        return "    report: the grading period is closed; nothing was sent and nothing is asked"
    terms = [f"{ran.value(report, key, 0)} {said}" for key, said in _REPORT_COUNTS
             if ran.value(report, key, 0)]
    return f"    report: {', '.join(terms) if terms else 'nothing for teachers to fix'}"


def _accounted_line(ran: PeriodOutcome) -> str:
    """Every object of the plan under exactly one outcome: the terms add up to the total."""
    terms = [f"{name.replace('_', ' ')} {ran.value(SINK, name, 0)}" for name in OUTCOMES
             if ran.value(SINK, name, 0)]
    return (f"    every planned object: {ran.value(SINK, 'objects', 0)} = "
            f"{' + '.join(terms) or '0'}")


def problem_line(outcome: DistrictOutcome) -> str | None:
    """One line saying what stopped a district and where, when something did before any
    grading period ran (the SIS unreachable, its credentials refused): no stack trace."""
    if outcome.problem is None:
        return None
    where = f" (run {outcome.extract_run_id}; details in its logs)" if outcome.extract_run_id \
        else ""
    return f"{outcome.district}: {outcome.problem}; nothing was sent{where}"


def print_summary(outcome: DistrictOutcome) -> None:
    """Print one district's outcome."""
    line = problem_line(outcome)
    if line:
        print(f"\n{line}", file=sys.stderr)
        return
    print(f"\n{outcome.district} as of {outcome.as_of}: "
          f"{'succeeded' if outcome.success else 'FAILED'}")
    print(f"  extract: {'ok' if outcome.extract_success else 'FAILED'} "
          f"(run {outcome.extract_run_id})")
    for ran in outcome.periods:
        print("\n".join(_grading_period_lines(ran)))
    if outcome.skipped:
        print("  not run today (closed, or not started yet): "
              + ", ".join(p.sourced_id for p in outcome.skipped))
