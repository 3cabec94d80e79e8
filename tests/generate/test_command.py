"""`passback generate` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from passback.cli import main
from pipeline.config import load_district_file
from tooling.generate.command import default_format


def test_generate_command_writes_and_reports(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["generate", "--out", str(tmp_path), "--students", "40", "--seed", "3",
                 "--profile", "oneroster", "--district", "lakeside", "--as-of", "2027-02-10",
                 "--base-url", "http://localhost:9000/ims/oneroster"])
    assert code == 0
    out = capsys.readouterr().out
    assert "scores" in out and "class_assignments" in out and "wrote csv" in out
    config = load_district_file(tmp_path / "mappings" / "lakeside.yaml")
    assert config.sis.profile == "oneroster" and config.sis.oneroster_version == "1.1"
    assert config.sis.auth.token_url == "http://localhost:9000/oauth/token"
    assert (tmp_path / "otus" / "scores.csv").stat().st_size > 0
    assert (tmp_path / "planted.csv").exists()


def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--out", str(tmp_path), "--district", "Bad Name"]) == 2
    assert "district" in capsys.readouterr().err


def test_default_format_switches_to_parquet_for_large_districts() -> None:
    assert default_format(1000) == "csv"
    assert default_format(50_000) == "parquet"
