"""Asset checks built from the catalog, shown in the Dagster UI on the passback tables.

Blocking (ERROR): what makes a whole run meaningless. The rules asset evaluates them before
it writes and, when one fails, writes nothing (the partition keeps its last good rows) and
the report and sink downstream do not run:
- `roster_not_empty`: the district's SIS roster (classes, student enrollments) is empty, so
  every record would be refused for a reason no teacher can fix;
- `no_duplicate_keys`: two candidates share a key (class assignment, or student and
  assignment), or the written partition holds a sourcedId twice;
- `category_mapping_not_empty`: the district mapping names no category at all.
Warning: `rule_rate_stable`: a rule's failure rate jumped against the previous run of the
same partition (passback.rule_stats keeps every run's counts).

They are declared as check specs of the rules asset (`RULES_CHECK_SPECS`) because the
partition, the candidates and the transaction all live inside that asset's run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg
import duckdb
import pandas as pd

from pipeline.graph import LINE_ITEMS, REJECTIONS
from pipeline.rule_settings import RunSettings

# A jump worth a look: the rate rose by this many points and at least doubled.
RATE_JUMP_POINTS = 0.10

RULES_CHECK_SPECS: list[dg.AssetCheckSpec] = [
    dg.AssetCheckSpec("roster_not_empty", asset=LINE_ITEMS, blocking=True,
                      description="the district's SIS roster has classes and enrollments"),
    dg.AssetCheckSpec("no_duplicate_keys", asset=LINE_ITEMS, blocking=True,
                      description="one candidate per class assignment and per score; "
                                  "one row per sourcedId in the partition"),
    dg.AssetCheckSpec("category_mapping_not_empty", asset=LINE_ITEMS, blocking=True,
                      description="the district mapping sends at least one assessment type "
                                  "to an SIS category"),
    dg.AssetCheckSpec("rule_rate_stable", asset=REJECTIONS,
                      description="no rule's failure rate jumped against the previous run"),
]


@dataclass
class Preconditions:
    """The blocking checks' verdicts for one run: check name -> problem (None = passed)."""

    problems: dict[str, str | None] = field(default_factory=dict)
    metadata: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every blocking check passed."""
        return all(problem is None for problem in self.problems.values())

    def results(self) -> list[dg.AssetCheckResult]:
        """One AssetCheckResult per blocking check."""
        return [
            dg.AssetCheckResult(
                asset_key=LINE_ITEMS, check_name=name, passed=problem is None,
                severity=dg.AssetCheckSeverity.ERROR,
                description=problem, metadata=self.metadata.get(name, {}),
            )
            for name, problem in self.problems.items()
        ]


_ROSTER_SQL = """
SELECT (SELECT count(*) FROM sis.classes WHERE district = $district),
       (SELECT count(*) FROM sis.enrollments WHERE district = $district AND role = 'student')
"""


def preconditions(
    conn: duckdb.DuckDBPyConnection, settings: RunSettings,
    line_items: pd.DataFrame, results: pd.DataFrame,
) -> Preconditions:
    """Evaluate the blocking checks on the raw roster, the mapping and the candidates."""
    checks = Preconditions()
    row = conn.execute(_ROSTER_SQL, {"district": settings.district}).fetchall()[0]
    classes, enrollments = (int(row[0]), int(row[1])) if row else (0, 0)
    checks.metadata["roster_not_empty"] = {"classes": classes, "student_enrollments": enrollments}
    checks.problems["roster_not_empty"] = (
        None if classes and enrollments else
        f"the SIS roster of {settings.district} has {classes} classes and {enrollments} "
        "student enrollments: extract the roster before running the rules")
    dup_items = int(line_items["assignment_id"].duplicated().sum())
    dup_results = int(results.duplicated(["assignment_id", "student_sourced_id"]).sum())
    checks.metadata["no_duplicate_keys"] = {"duplicate_class_assignments": dup_items,
                                            "duplicate_scores": dup_results}
    checks.problems["no_duplicate_keys"] = (
        None if not dup_items and not dup_results else
        f"{dup_items} duplicate class assignment ids and {dup_results} duplicate scores "
        "(assignment, student) in the Otus export")
    mapped = sorted({c for c in settings.categories.values() if c})
    checks.metadata["category_mapping_not_empty"] = {"mapped_categories": len(mapped)}
    checks.problems["category_mapping_not_empty"] = (
        None if mapped else
        f"the mapping of {settings.district} sends no assessment type to an SIS category")
    return checks


_PREVIOUS_STATS_SQL = """
WITH runs AS (
    SELECT run_id, max(computed_at) AS last_at FROM passback.rule_stats
    WHERE district = $district AND grading_period_sourced_id = $grading_period GROUP BY run_id
    ORDER BY last_at DESC LIMIT 2)
SELECT s.run_id, s.entity, s.rule, s.candidates, s.failures,
       s.run_id = (SELECT run_id FROM runs ORDER BY last_at DESC LIMIT 1) AS latest
FROM passback.rule_stats s JOIN runs USING (run_id)
WHERE s.district = $district AND s.grading_period_sourced_id = $grading_period
"""


def rate_changes(conn: duckdb.DuckDBPyConnection, district: str,
                 grading_period: str) -> pd.DataFrame:
    """Per rule: failure rate of the latest run and of the one before (NaN when none)."""
    params = {"district": district, "grading_period": grading_period}
    stats = conn.sql(_PREVIOUS_STATS_SQL, params=params).to_arrow_table().to_pandas()
    if stats.empty:
        return pd.DataFrame(columns=["entity", "rule", "rate", "previous_rate", "failures",
                                     "previous_failures"])
    stats["rate"] = stats["failures"] / stats["candidates"].where(stats["candidates"] > 0)
    latest = stats[stats["latest"]].set_index(["entity", "rule"])
    previous = stats[~stats["latest"]].set_index(["entity", "rule"])
    out = latest[["rate", "failures"]].join(
        previous[["rate", "failures"]].rename(columns=lambda c: f"previous_{c}"), how="left")
    return out.reset_index()


def rate_jump_result(changes: pd.DataFrame) -> dg.AssetCheckResult:
    """WARN when a rule's failure rate rose by RATE_JUMP_POINTS and at least doubled."""
    rate = changes["rate"].fillna(0.0).astype(float)
    before = changes["previous_rate"].astype(float)
    jumped = changes[(rate - before.fillna(rate) >= RATE_JUMP_POINTS) & (rate >= 2 * before)]
    lines = [f"{r.rule}: {r.previous_rate:.1%} -> {r.rate:.1%}" for r in jumped.itertuples()]
    return dg.AssetCheckResult(
        asset_key=REJECTIONS, check_name="rule_rate_stable", passed=not lines,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(lines) if lines else "no rule's failure rate jumped",
        metadata={"jumped_rules": len(lines), "rules_compared": int(before.notna().sum())},
    )
