"""Running one stage in its own process, and a sandbox SIS as a process of the harness.

Each stage is `python -m tooling.bench.worker STAGE PARAMS.json OUT.json`; the harness reaps it
with `os.wait4`, whose resource usage is that child's alone, so `ru_maxrss` is the stage's peak
RSS and not the harness's or an earlier stage's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooling import demo
from tooling.bench.steps import SAMPLED_PEAK
from tooling.sandbox import SandboxCredentials


class StageFailed(RuntimeError):
    """A stage's process exited non-zero or ran past its time limit."""


@dataclass
class Measured:
    """One stage's figures, its wall time as a process, and its peak RSS."""

    scenario: str
    stage: str
    figures: dict[str, Any]
    process_seconds: float
    peak_rss_mib: float

    def as_json(self) -> dict[str, Any]:
        """A plain dict for results.json."""
        return {"scenario": self.scenario, "stage": self.stage, "figures": self.figures,
                "process_seconds": round(self.process_seconds, 3),
                "peak_rss_mib": round(self.peak_rss_mib, 1)}


def _reap(process: subprocess.Popen, timeout: float) -> tuple[int, Any]:
    """Wait for a child with wait4 (its own rusage); kill its group past `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = -9
            raise StageFailed(f"stopped after {timeout:.0f} s")
        time.sleep(0.05)


def run_stage(scenario: str, stage: str, params: dict[str, Any], scratch: Path,
              *, timeout: float = 3600, env: dict[str, str] | None = None) -> Measured:
    """Run one stage in a fresh interpreter and collect its figures and peak RSS."""
    scratch.mkdir(parents=True, exist_ok=True)
    params_file, out_file = scratch / f"{stage}.params.json", scratch / f"{stage}.out.json"
    params_file.write_text(json.dumps(params, default=str), encoding="utf-8")
    out_file.unlink(missing_ok=True)
    log_file = scratch / f"{stage}.log"
    started = time.perf_counter()
    with log_file.open("w", encoding="utf-8") as log:
        # Its own process group, so a stage past its limit is killed with its children.
        process = subprocess.Popen(
            [sys.executable, "-m", "tooling.bench.worker", stage, str(params_file),
             str(out_file)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **(env or {})})
        code, usage = _reap(process, timeout)
    seconds = time.perf_counter() - started
    if code != 0 or not out_file.exists():
        tail = log_file.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise StageFailed(f"{scenario}/{stage} exited {code}; log {log_file}:\n{tail}")
    figures = json.loads(out_file.read_text(encoding="utf-8"))
    # Linux reports ru_maxrss in KiB. A stage that sampled its steps' peaks reset the kernel's
    # high-water mark as it went (tooling.bench.steps): its own figure is the process's peak.
    peak = max(usage.ru_maxrss / 1024, float(figures.get(SAMPLED_PEAK, 0.0)))
    return Measured(scenario, stage, figures, seconds, peak)


@dataclass
class Sandbox:
    """A sandbox SIS process: its root URL and, once stopped, its peak RSS."""

    root: str
    pid: int
    peak_rss_mib: float = 0.0

    @property
    def token_url(self) -> str:
        """The OAuth 2 token endpoint."""
        return f"{self.root}/oauth/token"


@contextmanager
def sandbox_process(data: Path, profile: str, faults: str = "",
                    closed: list[str] | None = None) -> Iterator[Sandbox]:
    """`python -m tooling.sandbox` over a OneRoster bundle; yields once it is serving.

    Its own process, as a remote SIS would be: the stage under test does not share its GIL.
    """
    command = [sys.executable, "-m", "tooling.sandbox", "--data", str(data),
               "--profile", profile, "--faults", faults,
               "--closed-grading-periods", ",".join(closed or [])]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    sandbox: Sandbox | None = None
    try:
        assert process.stdout is not None
        for line in process.stdout:
            label, _, value = line.partition(":")
            if label.strip() == "OAuth 2 token URL":
                sandbox = Sandbox(value.strip().removesuffix("/oauth/token"), process.pid)
                break
        if sandbox is None:
            raise StageFailed("the sandbox did not start")
        yield sandbox
    finally:
        process.terminate()
        _, usage = _reap(process, 20)
        if sandbox is not None:
            sandbox.peak_rss_mib = usage.ru_maxrss / 1024


def point_at_sandbox(mapping_file: Path, sandbox: Sandbox, *, concurrency: int = 5,
                     requests_per_second: int = 10_000) -> dict[str, str]:
    """Aim a generated district file at a sandbox; return the environment its secrets need.

    The rate limit is set out of the way unless asked: concurrency is what the sandbox's
    latency turns into a ceiling, and a loopback SIS would otherwise be throttled by the
    district's production budget.
    """
    district = demo.point_at_sandbox(mapping_file, sandbox.root, sandbox.token_url,
                                     requests_per_second=requests_per_second,
                                     concurrency=concurrency)
    return demo.sandbox_environment(district, SandboxCredentials.from_env())
