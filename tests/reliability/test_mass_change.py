"""A header-only `class_assignments.csv` with deletions on (issue 17, item 2), end to end: the
real `passback run` command against the sandbox SIS over loopback HTTP. The run after the
emptied export sends no DELETE, exits non-zero and says why; `--allow-mass-change` then
carries the deletions out."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.reliability.helpers import REPO, Finished, Workspace, write_report
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # starts the sandbox SIS and runs Dagster in child processes


def passback_run(workspace: Workspace, *options: str) -> Finished:
    """`passback run` for the workspace's district, in a child process, as a person types it."""
    command = [str(Path(sys.executable).parent / "passback"), "run", "--district",
               workspace.district, "--as-of", workspace.generated.as_of.isoformat(), *options]
    child = subprocess.run(command, cwd=REPO, env=workspace.env(), text=True,
                           capture_output=True, timeout=240)
    return Finished(child.returncode, child.stdout, child.stderr)


def deletes(sis: SandboxSIS, start: int) -> dict[int, int]:
    """DELETE requests the sandbox received since `start`, by the status it answered."""
    return dict(Counter(status for method, _path, status in sis.request_log[start:]
                        if method == "DELETE"))


def test_header_only_class_assignments_is_held_until_confirmed(workspace: Workspace) -> None:
    district_file = workspace.generated.mapping_file
    data = workspace.mapping()
    data["passback"]["propagate_deletions"] = True
    # A district that propagates deletions grants the delete scope (the generator asks only
    # for read and createput).
    scopes = data["sis"]["auth"]["scopes"]
    scopes.append(scopes[-1].replace("gradebook.createput", "gradebook.delete"))
    district_file.write_text(yaml.safe_dump(data, sort_keys=False))
    assignments = workspace.generated.otus_dir / "class_assignments.csv"
    assert assignments.is_file(), sorted(p.name for p in workspace.generated.otus_dir.iterdir())
    with SandboxSIS(workspace.generated.oneroster_dir, profile="oneroster",
                    closed_grading_periods=workspace.generated.closed_grading_periods) as sis:
        workspace.point_at(sis.url)
        first = passback_run(workspace)
        assert first.returncode == 0, first.tail()
        held_before = len(sis.store.line_items()), len(sis.store.results())
        assert held_before[0] > 0, "the first run passed nothing back"

        header = assignments.read_text(encoding="utf-8").splitlines()[0]
        assignments.write_text(header + "\n", encoding="utf-8")
        start = len(sis.request_log)
        held = passback_run(workspace)
        sent_while_held = deletes(sis, start)
        held_after = len(sis.store.line_items()), len(sis.store.results())

        start = len(sis.request_log)
        confirmed = passback_run(workspace, "--allow-mass-change")
        sent_when_confirmed = deletes(sis, start)
        left = len(sis.store.line_items()), len(sis.store.results())
    said = [line.strip() for line in (held.stdout + held.stderr).splitlines()
            if "mass change held" in line][:1]
    summary = [f"- SIS (line items, results) after the first run: {held_before}",
               f"- header-only class_assignments.csv: exit {held.returncode}, "
               f"DELETEs by status {sent_while_held}, SIS after: {held_after}",
               f"- with --allow-mass-change: exit {confirmed.returncode}, "
               f"DELETEs by status {sent_when_confirmed}, SIS after: {left}",
               f"- what the held run said: {said[0] if said else '(nothing)'}"]
    write_report("mass_change_header_only_class_assignments", summary)
    report = "\n".join(summary)
    assert held.returncode != 0, f"{report}\n{held.tail()}"
    assert not sent_while_held and held_after == held_before, report
    output = held.stdout + held.stderr
    assert "mass change held" in output, held.tail(80)
    assert "no live rows in class_assignments" in output and "--allow-mass-change" in output, \
        held.tail(80)
    assert "mass_change_share of 10%" in output, held.tail(80)  # the counts and the share
    assert confirmed.returncode == 0, f"{report}\n{confirmed.tail()}"
    assert set(sent_when_confirmed) == {204}, report
    assert sum(sent_when_confirmed.values()) == sum(held_before) and left == (0, 0), report
