"""The package as a district's operator gets it: the wheel built from this repo, installed with
its `tooling` extra into a fresh virtual environment outside the checkout, run from a folder
that is not the repo. It generates a district, serves it from the sandbox SIS as a background
process, and runs `passback run` end to end against it.

Everything else in the suite imports the checkout (an editable install, `python -m pytest` from
the repo root), so a file the wheel forgets, or a default that only works beside a checkout,
would pass there and fail here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import yaml

from tooling.demo import free_port

REPO = Path(__file__).resolve().parents[1]
DISTRICT = "wheeldist"
AS_OF = "2026-11-20"
# The sandbox's credentials, and the district file's names for them (PASSBACK_<DISTRICT>_*).
SANDBOX_CREDENTIALS = {"OAUTH1_KEY": "w-key", "OAUTH1_SECRET": "w-secret",
                       "CLIENT_ID": "w-client", "CLIENT_SECRET": "w-client-secret",
                       "VENDOR_KEY": "w-vendor", "VENDOR_SECRET": "w-vendor-secret"}
DISTRICT_ENV = {"KEY": "OAUTH1_KEY", "SECRET": "OAUTH1_SECRET", "CLIENT_ID": "CLIENT_ID",
                "CLIENT_SECRET": "CLIENT_SECRET", "VENDOR_KEY": "VENDOR_KEY",
                "VENDOR_SECRET": "VENDOR_SECRET"}
# What a source copy for the build leaves out: the developer's environment and build output.
NOT_SOURCES = shutil.ignore_patterns(".venv", ".git", ".passback", "build", "dist", "*.egg-info",
                                     "__pycache__", ".pytest_cache", ".ruff_cache",
                                     ".hypothesis", ".dagster_home", "tmp*", "*.duckdb*")

PROBE = """
import importlib.resources, json, os, sys
import checks, passback, pipeline, tooling
root = importlib.resources.files("pipeline")
print(json.dumps({
    "cwd": os.getcwd(), "sys_path": sys.path, "pipeline": pipeline.__file__,
    "passback": passback.__file__,
    "tooling": tooling.__file__,
    "specs": sorted(p.name for p in (root / "oneroster" / "openapi").iterdir()
                    if p.name.endswith(".json")),
    "template": (importlib.resources.files("checks") / "report" / "templates"
                 / "quality_report.html.j2").is_file(),
}))
"""


def _run(command: list[str], *, timeout: float, **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,
                          **kwargs)
    assert done.returncode == 0, (f"{' '.join(command)} exited {done.returncode}\n"
                                  f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def _clean_environment(home: Path) -> dict[str, str]:
    """The machine's environment without anything that points at the checkout or its venv,
    and with every Passback and Dagster path inside `home`."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("PASSBACK_", "DAGSTER_", "PYTEST_"))
           and name not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(REPO)))
    (home / "dagster").mkdir(parents=True)
    env.update({"PASSBACK_HOME": str(home), "PASSBACK_MAPPINGS_DIR": str(home / "mappings"),
                "PASSBACK_WAREHOUSE": str(home / "warehouse.duckdb"),
                "PASSBACK_REPORTS_DIR": str(home / "reports"),
                "DAGSTER_HOME": str(home / "dagster")})
    return env


@contextmanager
def _sandbox(passback: Path, args: list[str], env: dict[str, str],
             cwd: Path) -> Iterator[dict[str, str]]:
    """`passback sandbox` in the background; yields the URLs it prints, stops it after."""
    process = subprocess.Popen([str(passback), "sandbox", *args], cwd=cwd, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        banner = []
        assert process.stdout is not None
        for line in process.stdout:
            banner.append(line)
            if line.strip().startswith("faults:"):
                break
        else:
            raise AssertionError(f"the sandbox exited: {process.stderr.read()}")  # type: ignore
        urls = {}
        for line in banner[1:]:
            label, _, value = line.partition(": ")
            urls[label.strip()] = value.strip()
        yield urls
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_installed_wheel_runs_a_district_end_to_end(tmp_path: Path) -> None:
    # The wheel, built from a copy of the sources so the build leaves nothing in the checkout.
    sources, wheels = tmp_path / "sources", tmp_path / "wheels"
    shutil.copytree(REPO, sources, ignore=NOT_SOURCES)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels),
          str(sources)], timeout=600, cwd=tmp_path)
    [wheel] = wheels.glob("passback-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"pipeline/oneroster/openapi/onerosterv1p2gradebookservice_openapi3_v1p0.json",
            "pipeline/oneroster/openapi/onerosterv1p2rostersservice_openapi3_v1p0.json",
            "pipeline/oneroster/openapi/oneroster-v1p1-openapi3-derived-strongmind.json",
            "pipeline/oneroster/openapi/README.md",
            "checks/report/templates/quality_report.html.j2"} <= names
    assert not any(name.startswith("tests/") for name in names)

    # A fresh venv outside the checkout, the wheel and its tooling extra at the pinned versions.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    python, passback = venv / "bin" / "python", venv / "bin" / "passback"
    _run([str(python), "-m", "pip", "install", "--quiet", "-c", str(REPO / "constraints.txt"),
          f"passback[tooling] @ {wheel.as_uri()}"], timeout=1200, cwd=tmp_path)

    # From an unrelated folder, with every path in tmp and nothing pointing at the repo.
    work = tmp_path / "work"
    work.mkdir()
    env = _clean_environment(tmp_path / "home")

    probe = json.loads(_run([str(python), "-c", PROBE], timeout=120, cwd=work, env=env).stdout)
    venv_root = str(venv.resolve())
    for module in ("passback", "pipeline", "tooling"):
        assert str(Path(probe[module]).resolve()).startswith(venv_root), probe
    assert not str(Path(probe["cwd"]).resolve()).startswith(str(REPO)), probe
    assert not [p for p in probe["sys_path"] if p and str(Path(p).resolve()).startswith(
        str(REPO))], probe["sys_path"]
    assert probe["specs"] == sorted(n.rsplit("/", 1)[1] for n in names
                                    if n.startswith("pipeline/oneroster/openapi/")
                                    and n.endswith(".json")), probe
    assert len(probe["specs"]) == 3 and probe["template"], probe

    # A small district, aimed at the sandbox's port.
    port = free_port()
    generated = _run([str(passback), "generate", "--out", str(tmp_path / "district"),
                      "--students", "60", "--seed", "11", "--district", DISTRICT,
                      "--as-of", AS_OF, "--base-url", f"http://127.0.0.1:{port}/ims/oneroster"],
                     timeout=300, cwd=work, env=env).stdout
    closed = re.search(r"closed grading periods (\[.*?\]|-)", generated)
    assert closed, generated
    closed_periods = [] if closed.group(1) == "-" else json.loads(closed.group(1).replace("'", '"'))
    mapping = Path(re.search(r"district file +(\S+)", generated).group(1))  # type: ignore
    document = yaml.safe_load(mapping.read_text())
    assert document["sis"]["base_url"] == f"http://127.0.0.1:{port}/ims/oneroster"
    document["sis"]["budget"]["max_requests_per_second"] = 2000  # loopback, not a district SIS
    mapping.write_text(yaml.safe_dump(document, sort_keys=False))
    env["PASSBACK_MAPPINGS_DIR"] = str(mapping.parent)
    oneroster = Path(re.search(r"oneroster 1.1 csv +(\S+)", generated).group(1))  # type: ignore

    prefix = "PASSBACK_" + re.sub(r"[^A-Z0-9]", "_", DISTRICT.upper())
    sandbox_env = env | {f"PASSBACK_SANDBOX_{k}": v for k, v in SANDBOX_CREDENTIALS.items()}
    run_env = env | {f"{prefix}_{name}": SANDBOX_CREDENTIALS[source]
                     for name, source in DISTRICT_ENV.items()}
    state = tmp_path / "sandbox-state.jsonl"
    args = ["--data", str(oneroster), "--port", str(port), "--profile", "infinite_campus",
            "--state", str(state), "--closed-grading-periods", ",".join(closed_periods)]
    with _sandbox(passback, args, sandbox_env, work) as urls:
        assert urls["OneRoster 1.2 gradebook"].startswith(f"http://127.0.0.1:{port}/")
        started = time.monotonic()
        run = subprocess.run([str(passback), "run", "--district", DISTRICT, "--as-of", AS_OF],
                             cwd=work, env=run_env, capture_output=True, text=True, timeout=900,
                             check=False)
        output = f"{run.stdout[-6000:]}\n--- stderr\n{run.stderr[-4000:]}"
        assert run.returncode == 0, output
        print(f"passback run took {time.monotonic() - started:.1f}s\n{run.stdout}")
        sent = [int(n) for n in re.findall(r"SIS: sent (\d+)", run.stdout)]
        assert sent and sum(sent) > 0, output
        assert "succeeded" in run.stdout, output

        token = requests.post(urls["OAuth 2 token URL"], data={"grant_type": "client_credentials"},
                              auth=(SANDBOX_CREDENTIALS["CLIENT_ID"],
                                    SANDBOX_CREDENTIALS["CLIENT_SECRET"]), timeout=10)
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}",
                   "x-vendor-authorization": f"{SANDBOX_CREDENTIALS['VENDOR_KEY']}:"
                                             f"{SANDBOX_CREDENTIALS['VENDOR_SECRET']}"}
        held = requests.get(f"{urls['OneRoster 1.2 gradebook']}/results", headers=headers,
                            params={"limit": 1}, timeout=10)
        assert held.status_code == 200, held.text
        assert held.json()["results"], held.text
        assert int(held.headers.get("X-Total-Count", len(held.json()["results"]))) > 0

    assert state.exists() and state.stat().st_size > 0  # the journal holds the writes
    assert (tmp_path / "home" / "warehouse.duckdb").exists()
