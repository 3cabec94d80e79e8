"""`passback check-config --connect`: a token and a read from each SIS service, or one line
that says what failed and where, over real HTTP against the sandbox."""

from __future__ import annotations

import time

import pytest

from passback.cli import main
from tests.sink.helpers import ENV, Gradebook, district_config, mappings_for
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # starts a server


def test_connect_reads_each_service(sandbox: SandboxSIS, gradebook: Gradebook,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = mappings_for(gradebook.path.parent / "mappings", district_config(sandbox))

    assert main(["check-config", "--mappings", str(folder), "--connect"]) == 0

    out = capsys.readouterr().out
    assert "testdist: the SIS answered (a token, rostering and gradebook)" in out
    assert "each SIS answered" in out


def test_refused_credentials_fail_fast_in_one_line(
        sandbox: SandboxSIS, gradebook: Gradebook, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = mappings_for(gradebook.path.parent / "mappings", district_config(sandbox))
    monkeypatch.setenv(ENV["client_secret"], "not-the-secret")
    started = time.monotonic()

    assert main(["check-config", "--mappings", str(folder), "--connect"]) == 1

    err = capsys.readouterr().err
    assert time.monotonic() - started < 30
    assert "testdist: the SIS's rostering service at" in err and "not-the-secret" not in err
    assert "1 of 1 district(s) could not read their SIS: testdist" in err

