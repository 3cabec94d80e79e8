"""The SIS is the truth about what it holds: after each sync the extract reads its gradebook
back, and the next plan restores what it lost, and records (and overwrites or keeps) what was
edited in it. All over real HTTP against the sandbox, with a real warehouse file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from checks.report.build import write_report
from checks.report.data import load_report_data
from checks.report.render import markdown_summary
from passback.cli import main
from pipeline.sink import run_sync
from pipeline.warehouse import connect
from tests.sink.helpers import (
    AS_OF,
    GP_FALL,
    Gradebook,
    connector,
    district_config,
    drift_rows,
    read_sis_gradebook,
    sync,
    writes,
)
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server


def _first_sync(gradebook: Gradebook, sandbox: SandboxSIS, **passback: object) -> object:
    gradebook.add_line_items(3)
    gradebook.save()
    config = district_config(sandbox, **passback)
    first = sync(gradebook, config)
    assert first.counters.sent == 3 + 9
    read_sis_gradebook(gradebook, config)  # the nightly read after the sync
    return config


def _edit_in_sis(sandbox: SandboxSIS, sourced_id: str, score: float) -> None:
    """A teacher changes a score in the SIS itself (which stamps its own dateLastModified)."""
    record = dict(sandbox.store.result(sourced_id) or {})
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    sandbox.store.put("results", record | {"score": score, "dateLastModified": now})


def test_a_synced_district_read_back_needs_nothing(sandbox: SandboxSIS,
                                                   gradebook: Gradebook) -> None:
    config = _first_sync(gradebook, sandbox)
    before = len(sandbox.request_log)

    again = sync(gradebook, config)

    assert again.requests == 0 and again.planned["unchanged"] == 12
    assert len(sandbox.request_log) == before


def test_a_sync_not_yet_read_back_is_not_judged_missing(sandbox: SandboxSIS,
                                                         gradebook: Gradebook) -> None:
    config = _first_sync(gradebook, sandbox)
    gradebook.set_score(gradebook.results[0]["sourced_id"], 9.0)
    gradebook.save()
    sync(gradebook, config)  # sends one PUT after the last read
    sandbox.store.delete("results", gradebook.results[0]["sourced_id"])

    # The SIS has not been read since that write: the plan cannot know it is gone.
    again = sync(gradebook, config)

    assert again.requests == 0 and again.planned["restore"] == 0


def test_deleted_in_the_sis_is_restored_once(sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    config = _first_sync(gradebook, sandbox)
    line_item = gradebook.line_items[0]["sourced_id"]
    others = [r["sourced_id"] for r in gradebook.results if r["line_item_sourced_id"] != line_item]
    sandbox.store.delete("lineItems", line_item)  # takes its three results with it
    for sourced_id in others[:2]:
        sandbox.store.delete("results", sourced_id)
    # A SIS that deletes outright leaves no tombstone: the nightly incremental read sees no
    # change, but the SIS's count is below the warehouse's, so the collection is read in full.
    fetched = read_sis_gradebook(gradebook, config)
    assert fetched == {"line_items": 2, "results": 4}  # everything the SIS still holds
    start = len(sandbox.request_log)

    repaired = sync(gradebook, config)

    restored = [path.rsplit("/", 1)[-1] for _, path, _ in writes(sandbox, start)]
    assert repaired.planned["restore"] == 1 + 3 + 2
    assert sorted(restored) == sorted(set(restored))  # each once
    assert restored[0] == line_item  # the line item before its results
    assert len(sandbox.store.line_items()) == 3 and len(sandbox.store.results()) == 9
    read_sis_gradebook(gradebook, config)
    assert sync(gradebook, config).requests == 0


def test_a_sis_restarted_empty_gets_everything_again(bundle: Path, credentials_env: None,
                                                     gradebook: Gradebook) -> None:
    with SandboxSIS(bundle, profile="oneroster") as first:
        config = _first_sync(gradebook, first)
    with SandboxSIS(bundle, profile="oneroster") as empty:
        config = district_config(empty)
        read_sis_gradebook(gradebook, config)  # the nightly read: the SIS counts 0

        again = sync(gradebook, config)

        assert again.planned["restore"] == 12 and again.counters.sent == 12
        assert len(empty.store.results()) == 9


def test_a_sis_that_loses_writes_after_answering_is_repaired(
        bundle: Path, credentials_env: None, gradebook: Gradebook) -> None:
    with SandboxSIS(bundle, profile="oneroster", faults="seed=3,forget_rate=0.25") as sis:
        gradebook.add_line_items(4)
        gradebook.save()
        config = district_config(sis)
        first = sync(gradebook, config)
        # Every write was answered; results under a lost line item were refused for it.
        lost_items = 4 - len(sis.store.line_items())
        lost_results = first.counters.sent - 4 - len(sis.store.results())
        assert lost_items > 0 and lost_results > 0, "the seed should lose both kinds"
        assert first.counters.sent + first.counters.refused == 16
        sis.set_faults(None)
        read_sis_gradebook(gradebook, config)  # the nightly incremental read

        repaired = sync(gradebook, config)

        assert repaired.planned["restore"] == lost_items + lost_results
        assert repaired.counters.sent == lost_items + lost_results + first.counters.refused
        assert len(sis.store.line_items()) == 4 and len(sis.store.results()) == 12
        read_sis_gradebook(gradebook, config)
        assert sync(gradebook, config).requests == 0


@pytest.mark.parametrize("sis_edits", ["overwrite", "keep"])
def test_a_score_edited_in_the_sis_is_drift(sandbox: SandboxSIS, gradebook: Gradebook,
                                            sis_edits: str) -> None:
    config = _first_sync(gradebook, sandbox, sis_edits=sis_edits)
    edited = gradebook.results[4]
    _edit_in_sis(sandbox, edited["sourced_id"], 1.0)
    read_sis_gradebook(gradebook, config)
    start = len(sandbox.request_log)

    report = sync(gradebook, config)

    drift = drift_rows(gradebook.path)
    assert [(d["sourced_id"], d["field"], d["value_in_sis"]) for d in drift] == \
        [(edited["sourced_id"], "score", "1.0")]
    assert drift[0]["value_sent"] == str(float(edited["score"]))
    assert drift[0]["student_sourced_id"] == edited["student_sourced_id"]
    assert drift[0]["class_sourced_id"] == edited["class_sourced_id"]
    held = sandbox.store.result(edited["sourced_id"])["score"]
    if sis_edits == "overwrite":
        assert report.planned["overwrite"] == 1 and len(writes(sandbox, start)) == 1
        assert held == edited["score"] and drift[0]["decision"] == "overwrite"
    else:
        assert report.planned["kept"] == 1 and writes(sandbox, start) == []
        assert held == 1.0 and drift[0]["decision"] == "kept"
        assert report.outcomes()["kept"] == 1
    assert sum(report.outcomes().values()) == report.objects


def test_a_dry_run_shows_restores_without_sending(sandbox: SandboxSIS,
                                                  gradebook: Gradebook) -> None:
    config = _first_sync(gradebook, sandbox)
    sandbox.store.delete("results", gradebook.results[0]["sourced_id"])
    read_sis_gradebook(gradebook, config, full=True)
    start = len(sandbox.request_log)

    report = run_sync(config, GP_FALL, dry_run=True, connect=connector(gradebook.path),
                      as_of=AS_OF, log=lambda _: None)

    assert report.planned["restore"] == 1 and report.outcomes()["not_sent"] == 1
    assert len(sandbox.request_log) == start


def test_the_quality_report_shows_drift_by_teacher_and_class(
        sandbox: SandboxSIS, gradebook: Gradebook, tmp_path: Path) -> None:
    config = _first_sync(gradebook, sandbox, sis_edits="keep")
    edited = gradebook.results[1]
    _edit_in_sis(sandbox, edited["sourced_id"], 0.5)
    read_sis_gradebook(gradebook, config)
    sync(gradebook, config)

    with connect(gradebook.path) as conn:
        data = load_report_data(conn, config.district, GP_FALL)
        files = write_report(conn, data, tmp_path / "report")

    [(teacher, klass, rows)] = data.drift_by_teacher_and_class()
    assert klass == edited["class_sourced_id"]  # the class's SIS title is not in this warehouse
    assert teacher == gradebook.line_item(edited["line_item_sourced_id"]).get(
        "teacher_user_id", "Teacher not on record")
    assert rows[["student_sourced_id", "field", "value_sent", "value_in_sis", "decision"]
                ].values.tolist() == [[edited["student_sourced_id"], "score",
                                       str(float(edited["score"])), "0.5", "kept"]]
    html = files["html"].read_text()
    assert "Differs in the SIS" in html and f"{teacher} · {klass}" in html and ">0.5<" in html
    assert "kept as the SIS holds them" in html
    assert edited["sourced_id"] in files["drift_csv"].read_text()
    assert "Differs in the SIS:** 1 records (1 kept as the SIS holds them)" in \
        markdown_summary(data, files["html"])


def test_a_value_the_sis_stores_its_own_way_is_sent_again_once_not_every_night(
        sandbox: SandboxSIS, gradebook: Gradebook) -> None:
    gradebook.add_line_items(1)
    rounded = gradebook.results[0]["sourced_id"]
    gradebook.set_score(rounded, 7.333)
    gradebook.save()
    config = district_config(sandbox)

    def sis_rounds() -> None:  # as a SIS keeping two decimals would have stored our write
        record = dict(sandbox.store.result(rounded) or {})
        sandbox.store.put("results", record | {"score": round(record["score"], 2)})

    sync(gradebook, config)
    sis_rounds()
    read_sis_gradebook(gradebook, config)
    again = sync(gradebook, config)  # looks like a lost write: sent once more
    assert again.planned["restore"] == 1 and again.counters.sent == 1
    sis_rounds()
    read_sis_gradebook(gradebook, config)
    start = len(sandbox.request_log)

    third = sync(gradebook, config)

    assert third.planned["kept"] == 1 and writes(sandbox, start) == []
    [drift] = drift_rows(gradebook.path)
    assert (drift["field"], drift["value_sent"], drift["value_in_sis"], drift["decision"]) == \
        ("score", "7.333", "7.33", "kept")
    read_sis_gradebook(gradebook, config)
    assert sync(gradebook, config).requests == 0  # and so every night after


def test_passback_plan_shows_restores_and_edits_in_the_sis(
        sandbox: SandboxSIS, gradebook: Gradebook, cli: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = _first_sync(gradebook, sandbox)
    edited, lost = gradebook.results[2], gradebook.results[5]
    _edit_in_sis(sandbox, edited["sourced_id"], 1.0)
    sandbox.store.delete("results", lost["sourced_id"])
    read_sis_gradebook(gradebook, config, full=True)
    requests = len(sandbox.request_log)

    assert main(["plan", "--district", config.district, "--as-of", AS_OF.isoformat(),
                 "--format", "json"]) == 0

    [period] = json.loads(capsys.readouterr().out)["grading_periods"]
    actions = {a["sourced_id"]: a for a in period["actions"]}
    assert period["counts"]["overwrite"] == 1 and period["counts"]["restore"] == 1
    assert actions[edited["sourced_id"]]["changes"] == [
        {"field": "score", "old": "1.0", "new": str(float(edited["score"]))}]
    assert actions[lost["sourced_id"]]["action"] == "restore"
    assert len(sandbox.request_log) == requests  # a plan sends nothing
