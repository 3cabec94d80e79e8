"""The run summary accounts for every object of the sink's plan: its terms add up."""

from __future__ import annotations

import re

import pytest

from passback.run import PeriodOutcome
from passback.summary import SINK, _grading_period_lines
from pipeline.grading_periods import GradingPeriod
from pipeline.sink.plan import ACTIONS
from pipeline.sink.progress import SyncCounters
from pipeline.sink.run import OUTCOMES, SyncReport


def _report(dry_run: bool) -> SyncReport:
    planned = dict.fromkeys(ACTIONS, 0) | {"create": 995, "update": 10, "restore": 3,
                                           "overwrite": 2, "delete": 2, "unchanged": 17,
                                           "kept": 3, "refused": 1, "blocked": 9,
                                           "invalid": 1, "stopped": 1, "frozen": 0}
    counters = SyncCounters(sent=1000, refused=2, failed=1, deleted=2, blocked=7)
    return SyncReport("d", "gp", dry_run, False, planned,
                      counters=SyncCounters() if dry_run else counters)


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_outcomes_add_up_to_the_plan(dry_run: bool) -> None:
    report = _report(dry_run)
    metadata = report.metadata()
    assert list(report.outcomes()) == list(OUTCOMES)
    assert sum(report.outcomes().values()) == report.objects == 1044
    assert metadata["accounted_for"] == metadata["objects"] == 1044

    ran = PeriodOutcome(GradingPeriod("gp", "gp", "Fall", None, None, False), "run", True,
                        {SINK: metadata})
    [line] = [x for x in _grading_period_lines(ran) if "every planned object" in x]
    total, terms = re.match(r".*: (\d+) = (.*)", line).groups()
    assert int(total) == sum(int(n) for n in re.findall(r"(\d+)", terms)) == 1044
    [read_back] = [x for x in _grading_period_lines(ran) if "read back from the SIS" in x]
    assert "3 restored" in read_back and "2 edited in the SIS and overwritten" in read_back
    assert "3 kept as the SIS holds them" in read_back


@pytest.mark.parametrize("closed", [False, True])
def test_the_report_line_says_what_teachers_must_do(closed: bool) -> None:
    """The summary counts what the report's headline counts (each record once, by what it
    asks of people), not every rejection row; a closed period asks nothing."""
    from passback.summary import QUALITY_REPORT

    report = {"closed": closed, "to_fix": 0 if closed else 12, "refused_by_the_sis": 0,
              "waiting_on_a_refused_line_item": 0 if closed else 40,
              "not_ready": 0 if closed else 7, "rejects": 59, "report_path": "/r/index.html"}
    ran = PeriodOutcome(GradingPeriod("gp", "gp", "Fall", None, None, closed), "run", True,
                        {QUALITY_REPORT.to_user_string(): report})
    [line] = [x for x in _grading_period_lines(ran) if x.strip().startswith("report:")]
    if closed:
        assert "closed" in line and "nothing was sent" in line
    else:
        assert line.strip() == ("report: 12 for teachers to fix, 40 waiting on a refused line "
                                "item, 7 not ready yet")
    assert "59" not in line
