"""The `passback` command line: every command is listed and reachable."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from passback.cli import build_parser, main
from passback.history import format_history, format_plan, render_csv, render_table
from pipeline.config import DistrictConfig, load_district_file, warehouse_path
from pipeline.sink.lookup import HISTORY_COLUMNS
from pipeline.warehouse import connect

PASSBACK = Path(sys.executable).with_name("passback")


@pytest.mark.slow
def test_help_lists_every_command() -> None:
    done = subprocess.run([str(PASSBACK), "--help"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    for command in ("generate", "sandbox", "check-config", "run", "demo", "bench", "plan",
                    "history"):
        assert command in done.stdout


@pytest.mark.parametrize("command", ["generate", "sandbox", "check-config", "run", "demo", "bench",
                                     "plan", "history"])
def test_each_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([command, "--help"])
    assert exited.value.code == 0
    assert "usage: passback " + command in capsys.readouterr().out


def test_check_config_reports_problems_and_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.yaml").write_text("district: broken\ntime_zone: Nowhere/Else\n")
    assert main(["check-config", "--mappings", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml: time_zone: is not an IANA time zone" in err
    assert "broken.yaml: sis: is required but missing" in err


def test_run_names_an_unknown_district(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--district", "atlantis"]) == 2
    assert "district 'atlantis' is not configured" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["plan", "history"])
def test_plan_and_history_name_an_unknown_district(command: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--district", "atlantis"]) == 2
    assert f"passback {command}: district 'atlantis' is not configured" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["plan", "history"])
def test_plan_and_history_say_when_there_is_no_warehouse(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--district", "demo"]) == 2
    err = capsys.readouterr().err
    assert f"no warehouse at {warehouse_path()}" in err and "passback run --district demo" in err
    assert not warehouse_path().exists()  # and creates none


def test_plan_and_history_say_when_nothing_is_found(capsys: pytest.CaptureFixture[str]) -> None:
    with connect():
        pass  # an empty warehouse
    assert main(["history", "--district", "demo", "--student", "s-1", "--since",
                 "2026-01-01"]) == 1
    assert "no write requests recorded for district demo matching student s-1, since " \
        "2026-01-01" in capsys.readouterr().err
    assert main(["plan", "--district", "demo"]) == 1
    assert "district demo has no accepted or ledger rows" in capsys.readouterr().err
    assert main(["history", "--district", "demo", "--since", "last week"]) == 2
    assert "Invalid isoformat string: 'last week'" in capsys.readouterr().err


def test_table_and_csv_formats() -> None:
    assert render_table(("action", "count"), [("create", 12), ("unchanged", 3)]).splitlines() \
        == ["action     count", "---------  -----", "create     12", "unchanged  3"]
    assert render_csv(("field", "value"), [("title", "Quiz, part 1"), ("score", None)]) == \
        'field,value\ntitle,"Quiz, part 1"\nscore,\n'


PLAN = {"district": "d", "as_of": "2026-11-02", "grading_periods": [{
    "grading_period": "gp-1", "closed": False, "planned_requests": 1,
    "counts": {"create": 0, "update": 1, "unchanged": 7},
    "actions": [{"grading_period": "gp-1", "action": "update", "entity": "results",
                 "sourced_id": "res-1", "line_item_sourced_id": "li-1",
                 "class_sourced_id": "class-1", "student_sourced_id": "student-1",
                 "reason": None, "changes": [{"field": "score", "old": "7.0", "new": "9.5"},
                                             {"field": "comment", "old": None, "new": "ok"}]}]}]}


def test_plan_formats() -> None:
    table = format_plan(PLAN, "table").splitlines()
    assert table[0] == "d / gp-1: 1 request(s) planned as of 2026-11-02; nothing was sent"
    assert table[1:6] == ["action     count", "---------  -----", "create     0", "update     1",
                          "unchanged  7"]
    assert table[8].split(None, 6)[:6] == ["update", "results", "res-1", "li-1", "class-1",
                                           "student-1"]
    assert table[8].endswith("score: 7.0 -> 9.5; comment: (none) -> ok")
    assert format_plan(PLAN, "csv").splitlines()[1] == (
        "gp-1,update,results,res-1,li-1,class-1,student-1,"
        "score: 7.0 -> 9.5; comment: (none) -> ok,")
    assert json.loads(format_plan(PLAN, "json")) == PLAN


def test_history_formats() -> None:
    row = dict.fromkeys(HISTORY_COLUMNS) | {
        "requested_at": datetime(2026, 11, 2, 15, 0, tzinfo=UTC), "run_id": "run-1",
        "action": "update", "entity": "results", "sourced_id": "res-1", "http_status": 422,
        "state": "rejected", "attempts": 1, "description": "score above the maximum"}
    csv_lines = format_history([row], "csv").splitlines()
    assert csv_lines[0] == ",".join(HISTORY_COLUMNS)
    assert csv_lines[1].startswith("2026-11-02T15:00:00+00:00,run-1,update,results,res-1,")
    assert json.loads(format_history([row], "json"))[0]["requested_at"] == \
        "2026-11-02T15:00:00+00:00"
    table = format_history([row], "table").splitlines()
    assert "payload_hash" not in table[0] and table[2].endswith("score above the maximum")


def test_check_config_fails_on_a_missing_folder(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--mappings", str(tmp_path / "nowhere")]) == 2
    assert f"the mappings folder {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
    assert main(["check-config", "--mappings", str(tmp_path)]) == 2
    assert "no district files" in capsys.readouterr().err


def test_check_config_names_unset_secret_variables_never_values(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    demo = (Path(__file__).resolve().parents[1] / "mappings" / "demo.yaml").read_text()
    (tmp_path / "demo.yaml").write_text(demo)
    for suffix in ("CLIENT_ID", "CLIENT_SECRET", "VENDOR_KEY", "VENDOR_SECRET"):
        name = f"PASSBACK_DEMO_{suffix}"
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PASSBACK_DEMO_CLIENT_ID", "id-value-123")

    assert main(["check-config", "--mappings", str(tmp_path)]) == 2

    out = capsys.readouterr()
    assert "PASSBACK_DEMO_CLIENT_SECRET" in out.err and "PASSBACK_DEMO_VENDOR_SECRET" in out.err
    assert "PASSBACK_DEMO_CLIENT_ID," not in out.err and "id-value-123" not in out.err + out.out


def _demo_district_at(folder: Path, url: str) -> DistrictConfig:
    """The repo's demo district file aimed at `url` (base and token endpoint)."""
    document = yaml.safe_load((Path(__file__).resolve().parents[1] / "mappings" /
                               "demo.yaml").read_text())
    document["sis"]["base_url"] = f"{url}/ims/oneroster"
    document["sis"]["auth"]["token_url"] = f"{url}/oauth/token"
    (folder / "demo.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return load_district_file(folder / "demo.yaml")


def test_an_sis_that_accepts_no_connection_is_named_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from passback import run

    monkeypatch.setattr(run, "CONNECT_PAUSE_SECONDS", 0.0)
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    line = run.unreachable_sis(_demo_district_at(tmp_path, f"http://127.0.0.1:{port}"))
    assert line == (f"the SIS at http://127.0.0.1:{port}/ims/oneroster cannot be reached "
                    "(connection refused, 3 tries)")

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        assert run.unreachable_sis(_demo_district_at(tmp_path, url)) is None
