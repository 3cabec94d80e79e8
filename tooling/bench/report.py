"""The figures as a table for people, a JSON document for machines, and the goals read off both.

Goals (docs/benchmarks.md): extract at least 2x dlt's rows per second; rules within 3x plain
SQL and 1.5 GiB; sink at least 90% of the latency x concurrency ceiling; a no-change delta
sends nothing; changing k scores sends exactly k PUTs; in the end-to-end run, every Dagster
step within 1.5 GiB and the whole run within 2 GiB, and a dry run within 2 minutes with the
Otus export read in 20 s.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

from tooling.bench.harness import Measured

RULES_MEMORY_MIB = 1536
STEP_MEMORY_MIB = 1536
RUN_MEMORY_MIB = 2048
DRY_RUN_SECONDS = 120
OTUS_SECONDS = 20
OTUS_STEP = "otus_export"
PLAN_SECONDS = 30  # the first plan of a 50,000-student grading period (3.3 million writes)
REPORT_SECONDS = 5  # the quality report's Dagster step
REPORT_STEP = "passback__quality_report"
PACKAGES = ("dagster", "duckdb", "pandas", "pandera", "pyarrow", "requests", "urllib3",
            "uvicorn", "dlt")


def machine() -> dict[str, Any]:
    """Cores, memory, Python and package versions, and the load average right now."""
    memory = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            memory = int(info.readline().split()[1]) // 1024  # MemTotal, KiB -> MiB
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"cores": os.cpu_count(), "memory_mib": memory, "python": sys.version.split()[0],
            "platform": platform.platform(), "load_average": list(os.getloadavg()),
            "versions": versions}


def _by_stage(measured: list[Measured]) -> dict[str, dict[str, Measured]]:
    found: dict[str, dict[str, Measured]] = {}
    for m in measured:
        if "error" not in m.figures:
            found.setdefault(m.scenario, {})[m.stage] = m
    return found


def _goal(scenario: str, name: str, target: str, measured: str, met: bool) -> dict[str, Any]:
    return {"scenario": scenario, "goal": name, "target": target, "measured": measured,
            "met": met}


def goals(measured: list[Measured]) -> list[dict[str, Any]]:
    """Each goal against the figures of each scenario that has them."""
    found: list[dict[str, Any]] = []
    for scenario, s in _by_stage(measured).items():
        if "extract" in s and "extract_dlt" in s:
            ratio = (s["extract"].figures["rows_per_second"]
                     / s["extract_dlt"].figures["rows_per_second"])
            found.append(_goal(scenario, "extract vs dlt rest_api", ">= 2.0x rows/s",
                               f"{ratio:.2f}x", ratio >= 2))
        if "rules" in s and "rules_sql" in s:
            ratio = s["rules"].figures["seconds"] / s["rules_sql"].figures["seconds"]
            found.append(_goal(scenario, "rules vs plain SQL", "<= 3.0x time",
                               f"{ratio:.2f}x", ratio <= 3))
            rss = s["rules"].peak_rss_mib
            found.append(_goal(scenario, "rules peak RSS", f"<= {RULES_MEMORY_MIB} MiB",
                               f"{rss:,.0f} MiB", rss <= RULES_MEMORY_MIB))
        if "sink" in s:
            sink = s["sink"].figures
            share = sink["first_sync"]["share_of_ceiling"]
            found.append(_goal(scenario, "sink first sync", f">= 90% of {sink['ceiling_rps']:.0f}"
                               " req/s", f"{100 * share:.0f}%", share >= 0.9))
            unchanged = sink["delta_unchanged"]["requests"]
            found.append(_goal(scenario, "delta, nothing changed", "0 requests",
                               f"{unchanged} requests", unchanged == 0))
            changed = sink["delta_changed"]
            found.append(_goal(scenario, "delta, k scores changed", f"k = {changed['k']} PUTs",
                               f"{changed['writes']} PUTs", changed["writes"] == changed["k"]))
            if "nightly_read" in sink:
                read = sink["nightly_read"]
                found.append(_goal(scenario, "nightly SIS gradebook read", "incremental",
                                   f"{read['mode']}: {read['rows']:,} rows in "
                                   f"{read['requests']} requests", read["mode"] == "incremental"))
        if "sink_bulk" in s and "error" not in s["sink_bulk"].figures:
            bulk = s["sink_bulk"].figures
            per = bulk["requests_per_result"]
            found.append(_goal(scenario, "first sync by bulk", "<= 0.05 requests per result",
                               f"{per:.4f}", per <= 0.05 and bulk["failed"] == 0))
            found.append(_goal(scenario, "first sync by bulk, wall time", "<= 10 min",
                               f"{bulk['wall_seconds'] / 60:.1f} min",
                               bulk["wall_seconds"] <= 600))
        if "end_to_end" in s:
            found += _end_to_end_goals(scenario, s["end_to_end"])
        if "plan_nightly" in s and "first_plan_seconds" in s["plan_nightly"].figures:
            f = s["plan_nightly"].figures
            writes = sum(f["first_plan_writes"].values()) \
                if isinstance(f["first_plan_writes"], dict) else f["first_plan_writes"]
            baseline = s.get("plan_first_python")
            beside = f" (Python planner {baseline.figures['first_plan_seconds']:.1f} s)" \
                if baseline is not None and "first_plan_seconds" in baseline.figures else ""
            found.append(_goal(scenario, "first plan of a grading period",
                               f"<= {PLAN_SECONDS} s", f"{f['first_plan_seconds']:.1f} s for "
                               f"{writes:,} writes{beside}",
                               f["first_plan_seconds"] <= PLAN_SECONDS))
        if "plan_nightly" in s and "overhead" in s["plan_nightly"].figures:
            overhead = s["plan_nightly"].figures["overhead"]
            found.append(_goal(scenario, "reconciliation, nightly plan", "<= +10% time",
                               f"{100 * overhead:+.1f}%", overhead <= 0.10))
    return found


def _end_to_end_goals(scenario: str, m: Measured) -> list[dict[str, Any]]:
    """Memory per step and per run; for a dry run, its time and the Otus export's."""
    found = []
    steps = m.figures.get("steps", {})
    peaks = {step: f["peak_rss_mib"] for step, f in steps.items() if "peak_rss_mib" in f}
    if peaks:
        worst = max(peaks, key=peaks.__getitem__)
        found.append(_goal(scenario, "every Dagster step's peak RSS",
                           f"<= {STEP_MEMORY_MIB} MiB", f"{peaks[worst]:,.0f} MiB ({worst})",
                           peaks[worst] <= STEP_MEMORY_MIB))
    found.append(_goal(scenario, "passback run peak RSS", f"<= {RUN_MEMORY_MIB} MiB",
                       f"{m.peak_rss_mib:,.0f} MiB", m.peak_rss_mib <= RUN_MEMORY_MIB))
    if m.figures.get("dry_run"):
        seconds = float(m.figures["seconds"])
        found.append(_goal(scenario, "end-to-end dry run", f"<= {DRY_RUN_SECONDS} s",
                           f"{seconds:,.1f} s", seconds <= DRY_RUN_SECONDS))
        report = [step for step in steps if step.startswith(REPORT_STEP)]
        if report:
            took = sum(steps[step]["seconds"] for step in report)
            found.append(_goal(scenario, "the quality report", f"<= {REPORT_SECONDS} s",
                               f"{took:,.1f} s", took <= REPORT_SECONDS))
        if OTUS_STEP in steps:
            otus = steps[OTUS_STEP]["seconds"]
            found.append(_goal(scenario, "reading the Otus export", f"<= {OTUS_SECONDS} s",
                               f"{otus:,.1f} s", otus <= OTUS_SECONDS))
    return found


def steps_markdown(stages: list[Measured]) -> list[str]:
    """Each end-to-end run's Dagster steps: wall time and peak RSS, slowest first."""
    runs = [m for m in stages if m.stage == "end_to_end" and m.figures.get("steps")]
    if not runs:
        return []
    lines = ["", "| scenario | Dagster step (end to end) | seconds | peak RSS MiB |",
             "| --- | --- | ---: | ---: |"]
    for m in runs:
        steps = m.figures["steps"]
        for step in sorted(steps, key=lambda k: -steps[k]["seconds"]):
            peak = steps[step].get("peak_rss_mib")
            lines.append(f"| {m.scenario} | {step} | {steps[step]['seconds']:,.2f} | "
                         f"{'' if peak is None else f'{peak:,.0f}'} |")
    return lines


def _figure(m: Measured) -> str:
    """One stage's headline figure."""
    f = m.figures
    if "error" in f:
        return "FAILED: " + f["error"].splitlines()[0]
    if m.stage == "generate":
        return f"{f['scores']:,} scores, {f['oneroster_rows']:,} roster rows"
    if m.stage.startswith("extract"):
        return f"{f['rows']:,} rows, {f['rows_per_second']:,.0f} rows/s"
    if m.stage.startswith("rules"):
        return f"{f['result_candidates']:,} results, {f['rows_per_second']:,.0f} rows/s"
    if m.stage == "sink":
        first = f["first_sync"]
        bare = f.get("bare_parallel", {}).get("requests_per_second", float("nan"))
        return (f"first {first['requests']:,} req at {first['requests_per_second']:.0f}/s "
                f"({100 * first['share_of_ceiling']:.0f}% of {f['ceiling_rps']:.0f}); "
                f"sequential {f['sequential_requests']['requests_per_second']:.0f}/s; "
                f"bare {bare:.0f}/s; "
                f"delta 0 -> {f['delta_unchanged']['requests']} req, "
                f"k={f['delta_changed']['k']} -> {f['delta_changed']['writes']} PUTs")
    if m.stage == "sink_bulk":
        return (f"bulk first sync: {f['results']:,} results in {f['requests']:,} req "
                f"({f['requests_per_result']:.4f}/result), sent in {f['send_seconds']:.0f} s, "
                f"{f['wall_seconds']:.0f} s with planning; sandbox peak "
                f"{f['sandbox_peak_rss_mib']:,.0f} MiB")
    if m.stage == "plan_nightly":
        return (f"{f['results']:,} results: ledger only {f['ledger_only_best']:.2f} s, "
                f"with the SIS {f['reconciled_best']:.2f} s ({100 * f['overhead']:+.1f}%); "
                f"first plan {f['first_plan_seconds']:.2f} s")
    if m.stage == "plan_first_python":
        return (f"the old planner (Python, a dict per row): first plan of {f['results']:,} "
                f"results in {f['first_plan_seconds']:.2f} s, peak "
                f"{f['first_plan_peak_rss_mib']:,.0f} MiB")
    if m.stage == "end_to_end":
        if f["dry_run"]:
            planned = sum(p["planned"] for p in f["periods"])
            return f"dry run: {planned:,} writes planned, none sent"
        rates = ", ".join(f"{p['rate_per_second']:.0f}" for p in f["periods"])
        return f"{f['sent']:,} writes sent (sink at {rates} req/s)"
    return ""


def _seconds(m: Measured) -> float:
    f = m.figures
    if m.stage == "sink" and "first_sync" in f:
        return float(f["first_sync"]["seconds"])
    return float(f.get("seconds", 0.0))


def table(measured: list[Measured]) -> str:
    """Scenario, stage, timed seconds, peak RSS and the headline figure, one row each."""
    lines = [f"{'scenario':<16} {'stage':<12} {'seconds':>8} {'peak MiB':>9}  figure"]
    for m in measured:
        lines.append(f"{m.scenario:<16} {m.stage:<12} {_seconds(m):>8.2f} "
                     f"{m.peak_rss_mib:>9,.0f}  {_figure(m)}")
        for step, f in sorted(m.figures.get("steps", {}).items(),
                              key=lambda item: -item[1]["seconds"]):
            lines.append(f"{'':<16} {'  ' + step:<30} {f['seconds']:>8.2f} "
                         f"{f.get('peak_rss_mib', float('nan')):>9,.0f}")
    return "\n".join(lines)


def goals_table(found: list[dict[str, Any]]) -> str:
    """Each goal, its target, the measured value, met or missed."""
    lines = [f"{'scenario':<16} {'goal':<26} {'target':<22} {'measured':<14} verdict"]
    for g in found:
        lines.append(f"{g['scenario']:<16} {g['goal']:<26} {g['target']:<22} "
                     f"{g['measured']:<14} {'met' if g['met'] else 'MISSED'}")
    return "\n".join(lines)


def markdown(document: dict[str, Any]) -> str:
    """A results.json as the Markdown tables docs/benchmarks.md quotes (figures, goals)."""
    stages = [Measured(s["scenario"], s["stage"], s["figures"], s["process_seconds"],
                       s["peak_rss_mib"]) for s in document["stages"]]
    host = document["machine"]
    lines = [f"`{document['command']}` ({document['finished_at'][:16]} UTC, "
             f"{document['wall_seconds']:,.0f} s; {host['cores']} cores, "
             f"{host['memory_mib'] / 1024:.1f} GiB, Python {host['python']}, load average "
             f"{host['load_average'][0]:.1f} before and "
             f"{document['load_average_after'][0]:.1f} after)", "",
             "| scenario | stage | seconds | peak RSS MiB | figure |",
             "| --- | --- | ---: | ---: | --- |"]
    lines += [f"| {m.scenario} | {m.stage} | {_seconds(m):,.2f} | {m.peak_rss_mib:,.0f} | "
              f"{_figure(m)} |" for m in stages]
    lines += steps_markdown(stages)
    lines += ["", "| scenario | goal | target | measured | verdict |",
              "| --- | --- | --- | --- | --- |"]
    lines += [f"| {g['scenario']} | {g['goal']} | {g['target']} | {g['measured']} | "
              f"{'met' if g['met'] else '**missed**'} |" for g in document["goals"]]
    return "\n".join(lines)
