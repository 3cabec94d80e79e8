"""Headless Chromium for tests that check what a person sees: Debian's `chromium`, installed by
the test setup where missing (`apt-get install -y chromium`), driven from the command line
(`--dump-dom`, `--screenshot`) so no browser driver or new Python dependency is needed."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Quiet, self-contained, no network of its own: the page under test is the only traffic.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
# Virtual time the page may use to fetch its data and render (a JavaScript app: the Dagster UI).
RENDER_MS = 20_000


def chromium() -> str:
    """The Chromium binary; installed with apt-get when missing, or the test fails saying why."""
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.fail("chromium is missing and apt-get is not available to install it: install "
                    "Debian's `chromium` package (the UI tests render pages in it)")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = ([*sudo, "apt-get", "update", "-q"], [*sudo, "apt-get", "install", "-y", "-q",
                                                  "chromium"])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, env=env, timeout=1200)
        if done.returncode != 0:
            pytest.fail(f"could not install chromium ({' '.join(step)} exited "
                        f"{done.returncode}): {done.stderr.strip()[-1500:]}")
    found = shutil.which("chromium")
    if not found:
        pytest.fail("apt-get installed chromium but no `chromium` is on PATH")
    return found


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="passback-chromium-") as profile:
        command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"chromium exited {done.returncode}: {done.stderr.strip()[-1500:]}")
    return done


def rendered_dom(url: str, *, render_ms: int = RENDER_MS, width: int = 1600,
                 height: int = 1000) -> str:
    """The page's DOM after its scripts ran for `render_ms` of virtual time."""
    return _run([f"--window-size={width},{height}", f"--virtual-time-budget={render_ms}",
                 "--dump-dom", url], timeout=180).stdout


def screenshot(url: str, path: Path, *, render_ms: int = RENDER_MS, width: int = 1600,
               height: int = 1000) -> Path:
    """A PNG of the page as rendered after `render_ms` of virtual time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _run([f"--window-size={width},{height}", f"--virtual-time-budget={render_ms}",
          f"--screenshot={path}", url], timeout=180)
    if not path.exists() or path.stat().st_size == 0:
        pytest.fail(f"chromium wrote no screenshot at {path}")
    return path
