"""The sandbox as a process: start, print URLs (no secrets), be killed, restart with state."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.sandbox.helpers import SCOPE, line_item_12
from tooling.sandbox.command import register


@contextmanager
def sandbox_process(*args: str) -> Iterator[tuple[dict[str, str], str]]:
    """Start `python -m tooling.sandbox`, yield (printed URLs, raw banner); kill it after."""
    process = subprocess.Popen([sys.executable, "-m", "tooling.sandbox", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.strip().startswith("faults:"):
                break
        else:
            raise AssertionError(f"sandbox exited: {process.stderr.read()}")  # type: ignore
        urls = {}
        for line in lines[1:]:
            label, _, value = line.partition(": ")
            urls[label.strip()] = value.strip()
        yield urls, "".join(lines)
    finally:
        process.kill()  # a hard kill: the journal must already hold every write
        process.wait(timeout=10)


def bearer(urls: dict[str, str], secret: str) -> dict[str, str]:
    response = requests.post(urls["OAuth 2 token URL"], timeout=5,
                             data={"grant_type": "client_credentials",
                                   "scope": f"{SCOPE}gradebook.createput "
                                            f"{SCOPE}gradebook.readonly"},
                             auth=(urls["OAuth 2 client id"], secret))
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.slow
def test_process_serves_survives_a_kill_and_keeps_state(bundle: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.jsonl"
    args = ["--data", str(bundle), "--state", str(state), "--profile", "skyward",
            "--closed-grading-periods", "gp-q1", "--client-id", "district-client",
            "--client-secret", "shh-secret", "--faults", "seed=1"]
    with sandbox_process(*args) as (urls, banner):
        assert "shh-secret" not in banner and "sandbox-secret" not in banner
        assert urls["OAuth 2 client id"] == "district-client"
        gradebook = urls["OneRoster 1.2 gradebook"]
        assert gradebook.startswith("http://127.0.0.1:")
        headers = bearer(urls, "shh-secret")
        put = requests.put(f"{gradebook}/lineItems/li-cli", json=line_item_12("li-cli"),
                           headers=headers, timeout=5)
        assert put.status_code == 201, put.text
        long_title = requests.put(f"{gradebook}/lineItems/li-cli-2", headers=headers, timeout=5,
                                  json=line_item_12("li-cli-2", title="x" * 60))
        assert long_title.status_code == 422  # the Skyward profile is in force
    with sandbox_process(*args) as (urls, _banner):
        headers = bearer(urls, "shh-secret")
        kept = requests.get(f"{urls['OneRoster 1.2 gradebook']}/lineItems/li-cli",
                            headers=headers, timeout=5)
        assert kept.status_code == 200
        assert kept.json()["lineItem"]["title"] == "Quiz li-cli"


@pytest.mark.slow
def test_bad_arguments_exit_non_zero(tmp_path: Path) -> None:
    missing = subprocess.run([sys.executable, "-m", "tooling.sandbox", "--data",
                              str(tmp_path / "nowhere")], capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2 and "orgs.csv" in missing.stderr
    bad_faults = subprocess.run([sys.executable, "-m", "tooling.sandbox", "--data",
                                 str(tmp_path), "--faults", "chaos=11"], capture_output=True,
                                text=True, timeout=60)
    assert bad_faults.returncode == 2 and "chaos" in bad_faults.stderr


def test_register_adds_the_sub_command() -> None:
    parser = argparse.ArgumentParser(prog="passback")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sandbox", "--data", "d", "--profile", "infinite_campus",
                              "--port", "8123", "--closed-grading-periods", "gp-1,gp-2"])
    assert (args.profile, args.port, args.closed_grading_periods) == \
        ("infinite_campus", 8123, "gp-1,gp-2")
    assert callable(args.func)


@pytest.mark.slow
def test_bench_runs_end_to_end(capsys) -> None:
    """The benchmark script keeps working (figures are not asserted: this is not a timing test)."""
    from tooling.bench.sandbox import main

    assert main(["--puts", "20", "--threads", "2", "--page", "50", "--in-process"]) == 0
    output = capsys.readouterr().out
    assert "PUT/s" in output and "50 enrollments" in output
