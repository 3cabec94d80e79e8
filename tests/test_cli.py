"""The `passback` command line: every command is listed and reachable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from passback.cli import build_parser, main

PASSBACK = Path(sys.executable).with_name("passback")


@pytest.mark.slow
def test_help_lists_every_command() -> None:
    done = subprocess.run([str(PASSBACK), "--help"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    for command in ("generate", "sandbox", "check-config", "run", "demo", "bench"):
        assert command in done.stdout


@pytest.mark.parametrize("command", ["generate", "sandbox", "check-config", "run", "demo", "bench"])
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
