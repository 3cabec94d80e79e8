"""A long SIS read says how far it is, in the run's logs (the event log the UI shows), which
the terminal logger prints as they come."""

from __future__ import annotations

import dagster as dg
import pytest

from passback.run import run_district
from tests.orchestration.helpers import DISTRICT, District

pytestmark = pytest.mark.slow  # a sandbox and a Dagster run


def test_the_extract_logs_progress_lines(district: District, instance: dg.DagsterInstance,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Every read outlasts a 10 ms interval (each request waits 30 ms in the sandbox; without
    # that, a 60-student read took 2-7 ms and logged nothing): each SIS step logs a line.
    # The interval is set in the environment, as a step in a process of its own sees it.
    district.sis.set_faults("latency_ms=30")
    monkeypatch.setenv("PASSBACK_PROGRESS_SECONDS", "0.01")
    outcome = run_district(DISTRICT, as_of=district.generated.as_of, instance=instance,
                           log=lambda _: None)
    assert outcome.extract_success
    messages = [record.user_message for record in
                instance.all_logs(outcome.extract_run_id) if record.user_message]
    lines = [m for m in messages if m.startswith(f"{DISTRICT}: reading ")]
    assert lines, messages[-20:]
    assert any(" pages" in m and "req/s" in m for m in lines), lines[:5]
