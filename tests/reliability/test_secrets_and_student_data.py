"""Secrets come only from the environment and appear in no output; reports and metadata carry
no student names; the warehouse and the reports are readable by their owner only.

One real run (and one with a wrong secret) against the sandbox with distinctive credentials;
then every output is searched: the child's stdout and stderr, the Dagster event log of every
run (materialization metadata included), the report files, the DuckDB file's bytes and every
table's text, and the Dagster instance's own files.
"""

from __future__ import annotations

import base64
import csv
import re
import ssl
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from pipeline.config import DistrictConfig
from pipeline.oneroster import OneRosterClient, OneRosterWriter
from pipeline.warehouse import connect
from tests.reliability.helpers import Finished, Workspace, write_report
from tooling.generate import GeneratedDistrict
from tooling.sandbox import SandboxCredentials, SandboxSIS

CREDENTIALS = SandboxCredentials(
    oauth1_key="okey-Vb7Qz2", oauth1_secret="osec-Hn4Wm9Tc1Rx6", client_id="cid-Zq8rT1vXw",
    client_secret="csec-Kx9Lp2Mn7Qv4Jd3", vendor_key="vkey-Fy5Ub8",
    vendor_secret="vsec-Pg6Ea2Ws8Lk1")
WRONG_SECRET = "wrong-Yt3Bn8Ce5Rf2"


def _needles() -> dict[str, str]:
    """Every secret value, and the HTTP Basic form the token request carries."""
    basic = base64.b64encode(f"{CREDENTIALS.client_id}:{CREDENTIALS.client_secret}".encode())
    values = {name: getattr(CREDENTIALS, name) for name in
              ("oauth1_secret", "client_secret", "vendor_secret")}
    return {**values, "wrong_secret": WRONG_SECRET, "basic_auth": basic.decode(),
            "vendor_header": f"{CREDENTIALS.vendor_key}:{CREDENTIALS.vendor_secret}"}


@dataclass
class Outputs:
    """Everything a run left behind, as named texts and byte blobs."""

    workspace: Workspace
    good: Finished
    wrong: Finished
    texts: dict[str, str]
    blobs: dict[str, bytes]


def _event_log_texts(home: Path) -> dict[str, str]:
    instance = dg.DagsterInstance.from_config(str(home))
    texts = {}
    for run in instance.get_runs():
        events = instance.all_logs(run.run_id)
        texts[f"event log of {run.job_name} run {run.run_id}"] = "\n".join(
            repr(event) for event in events)
        texts[f"tags of run {run.run_id}"] = repr(run.tags) + repr(run.run_config)
    return texts


def _warehouse_texts(path: Path) -> dict[str, str]:
    texts = {}
    with connect(path, read_only=True) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables"
                              ).fetchall()
        for schema, table in tables:
            rows = conn.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            texts[f"warehouse table {schema}.{table}"] = repr(rows)
    return texts


def _files(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def outputs(generated: GeneratedDistrict, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Outputs]:
    """A good run and a wrong-secret run of one district, with everything they produced."""
    workspace = Workspace.copy_of(generated, tmp_path_factory.mktemp("secrets"),
                                  credentials=CREDENTIALS)
    with SandboxSIS(workspace.generated.oneroster_dir, profile="oneroster",
                    credentials=CREDENTIALS,
                    closed_grading_periods=generated.closed_grading_periods) as sis:
        workspace.point_at(sis.url)
        good = workspace.run()
        secret_name = workspace.mapping()["sis"]["auth"]["client_secret_env"]
        workspace.extra_env = {secret_name: WRONG_SECRET}
        wrong = workspace.run()
    texts = {"good run stdout+stderr": good.output, "wrong-secret run stdout+stderr":
             wrong.output, **_event_log_texts(workspace.dagster_home),
             **_warehouse_texts(workspace.warehouse)}
    blobs = {**_files(workspace.root / "state"), **_files(workspace.dagster_home)}
    yield Outputs(workspace, good, wrong, texts, blobs)


@pytest.mark.slow
def test_no_secret_in_any_output(outputs: Outputs) -> None:
    """Secrets reach the SIS and nothing else: not logs, metadata, reports, files or errors."""
    assert outputs.good.returncode == 0, outputs.good.tail()
    assert outputs.wrong.returncode != 0, outputs.wrong.tail()
    assert "refused (invalid_client)" in outputs.wrong.output, outputs.wrong.tail()
    leaks = [f"{name} in {where}" for where, text in outputs.texts.items()
             for name, value in _needles().items() if value in text]
    leaks += [f"{name} in the bytes of {where}" for where, data in outputs.blobs.items()
              for name, value in _needles().items() if value.encode() in data]
    write_report("secrets", [f"- searched {len(outputs.texts)} texts and {len(outputs.blobs)} "
                             f"files for {sorted(_needles())}",
                             f"- leaks: {leaks or 'none'}"])
    assert not leaks, leaks
    assert len(outputs.blobs) > 5 and any(k.endswith(".duckdb") for k in outputs.blobs)


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _student_names(generated: GeneratedDistrict) -> set[str]:
    """Student given and family names from the SIS, minus any name a staff member also has
    (in the SIS or Otus): staff are rightly named in reports."""
    sis_users = _read(generated.oneroster_dir / "users.csv")
    staff = {n for u in sis_users if u["role"] != "student"
             for n in (u["givenName"], u["familyName"])}
    staff |= {n for u in _read(generated.otus_dir / "users.csv") if u["role"] != "student"
              for n in (u["given_name"], u["family_name"])}
    return {n for u in sis_users if u["role"] == "student"
            for n in (u["givenName"], u["familyName"]) if len(n) >= 3 and n not in staff}


@pytest.mark.slow
def test_no_student_name_in_reports_or_metadata(outputs: Outputs) -> None:
    """Reports and run metadata name students by sourcedId only (teachers may be named)."""
    names = _student_names(outputs.workspace.generated)
    reports = {k: v.decode("utf-8", "replace") for k, v in outputs.blobs.items()
               if "/reports/" in k}
    searched = {**reports, **{k: v for k, v in outputs.texts.items()
                              if k.startswith(("event log", "tags", "good run"))}}
    found = [f"{name!r} in {where}" for where, text in searched.items() for name in names
             if re.search(rf"\b{re.escape(name)}\b", text)]
    write_report("student_data", [f"- {len(names)} student given/family names searched in "
                                  f"{len(reports)} report files and {len(searched) - len(reports)}"
                                  " logs/metadata", f"- found: {found or 'none'}"])
    assert len(reports) >= 3 and len(names) > 10
    assert any("stu" in text for text in reports.values())  # students by sourcedId instead
    assert not found, found[:20]


@pytest.mark.slow
def test_private_files_and_folders(outputs: Outputs) -> None:
    """The warehouse (and its folder, which shields the WAL) and every report file and
    folder are readable by their owner only."""
    state = outputs.workspace.root / "state"
    wrong = []
    for path in [state, *state.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.name.endswith(".lock") or path.name == "locks":
            continue  # empty lock files: flock needs no secrecy
        if mode & 0o077:
            wrong.append(f"{path.relative_to(state)} {oct(mode)}")
    assert (state / "warehouse.duckdb").exists()
    assert not wrong, wrong


def _config(url: str, token_url: str) -> DistrictConfig:
    from types import SimpleNamespace

    from tests.sink.helpers import district_config

    return district_config(SimpleNamespace(url=url, token_url=token_url))


def test_plain_http_to_a_remote_host_is_refused_by_the_clients() -> None:
    """The configuration refuses it; a client handed such a configuration anyway refuses too."""
    with pytest.raises(ValueError, match="plain http is only allowed to a loopback host"):
        _config("http://sis.example.org", "http://sis.example.org/oauth/token")
    good = _config("http://127.0.0.1:9", "http://127.0.0.1:9/oauth/token")
    sneaked = good.model_copy(update={"sis": good.sis.model_copy(
        update={"base_url": "http://sis.example.org/ims/oneroster"})})
    with pytest.raises(ValueError, match="loopback"):
        OneRosterClient(sneaked).close()
    # Reads and writes share one transport, and the check is the transport's.
    with pytest.raises(ValueError, match="loopback"):
        OneRosterWriter(sneaked).close()


def test_tls_verification_stays_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clients' sessions verify certificates, and no code path turns it off."""
    for name in ("SINK_TEST_CLIENT", "SINK_TEST_CLIENT_SECRET"):
        monkeypatch.setenv(name, "unused")
    config = _config("https://127.0.0.1:9", "https://127.0.0.1:9/oauth/token")
    with OneRosterClient(config) as client, OneRosterWriter(config) as writer:
        for transport in (client.transport, writer.transport):
            assert transport.tls is not None and transport.tls.verify_mode == ssl.CERT_REQUIRED
            assert transport.tls.check_hostname
            assert transport._token_session.verify is True
    sources = [p for folder in ("pipeline", "assets", "checks")
               for p in Path(folder).rglob("*.py")]
    offenders = [str(p) for p in sources
                 if re.search(r"verify\s*=\s*False|CERT_NONE|cert_reqs\s*=\s*['\"]?NONE|"
                              r"_create_unverified_context|disable_warnings|"
                              r"check_hostname\s*=\s*False", p.read_text())]
    assert sources and not offenders, offenders
