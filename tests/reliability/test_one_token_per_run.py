"""A generated Skyward district on OneRoster 1.1 with OAuth 2 runs end to end against the
sandbox (issue 17, item 9: its 1.1 scopes are the spec's, and the sandbox grants them), and
the whole run asks the SIS for one token per Dagster run, not one per asset (the extract's
nine steps and the sink share it through the run's encrypted token cache)."""

from __future__ import annotations

import stat
from pathlib import Path

import dagster as dg
import pytest

from pipeline.oneroster import OneRosterAuthError, OneRosterClient, OneRosterResource
from pipeline.oneroster.token_cache import TokenCacheDir
from tests.reliability.helpers import AS_OF, Workspace
from tests.sink.helpers import ENV, district_config
from tooling.generate import GeneratedDistrict, generate_district
from tooling.sandbox import SandboxCredentials, SandboxSIS

pytestmark = pytest.mark.slow  # starts the sandbox and runs the pipeline in a child process


def test_a_generated_skyward_11_oauth2_district_runs_on_one_token_per_run(
        tmp_path: Path) -> None:
    generated = generate_district(tmp_path / "generated", students=10, seed=17,
                                  profile="skyward", oneroster_version="1.1", auth="oauth2",
                                  district="skydist", as_of=AS_OF)
    workspace = Workspace.copy_of(generated, tmp_path / "workspace")
    scopes = workspace.mapping()["sis"]["auth"]["scopes"]
    assert scopes and all("/or/v1p1/scope/" in scope for scope in scopes)
    with SandboxSIS(workspace.generated.oneroster_dir, profile="skyward",
                    closed_grading_periods=generated.closed_grading_periods) as sis:
        workspace.point_at(sis.url)
        finished = workspace.run()
        issued = set(sis.auth._tokens)  # every token the sandbox handed out
    assert finished.returncode == 0, finished.tail()
    log = sis.request_log
    token_requests = sum(1 for _method, path, _status in log if path == "/oauth/token")
    writes = sum(1 for method, _path, status in log if method == "PUT" and status < 300)
    with dg.DagsterInstance.from_config(str(workspace.dagster_home)) as instance:
        runs = instance.get_runs_count()
    assert writes > 0 and runs >= 2, finished.tail()
    # One token per run (the extract run's nine assets and each passback run's sink).
    assert token_requests == runs == len(issued), (token_requests, runs)
    # The shared token is on disk only encrypted, private to the owner, and nowhere else.
    cache = workspace.dagster_home / "storage" / "passback-tokens"
    files = sorted(cache.glob("*.token"))
    assert files and stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    for path in [p for p in workspace.root.rglob("*") if p.is_file()]:
        data = path.read_bytes()
        assert not any(token.encode() in data for token in issued), path
    assert not any(token in finished.output for token in issued)


def test_the_sandbox_refuses_an_unknown_scope_and_the_message_says_so(
        generated: GeneratedDistrict, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = SandboxCredentials()
    monkeypatch.setenv(ENV["client_id"], creds.client_id)
    monkeypatch.setenv(ENV["client_secret"], creds.client_secret)
    with SandboxSIS(generated.oneroster_dir, profile="skyward") as sis:
        district = district_config(sis, version="1.1", profile="skyward")
        district.sis.auth.scopes.append(  # type: ignore[union-attr]
            "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly")
        district.sis.auth.scopes.append(  # type: ignore[union-attr]
            "https://purl.imsglobal.org/spec/or/v1p9/scope/roster.readonly")
        with OneRosterResource().reader(district) as reader, \
                pytest.raises(OneRosterAuthError) as err:
            reader.records("classes")
    message = str(err.value)
    assert "invalid_scope" in message and "not for the client id and secret" in message
    assert "district's 1.1" in message and creds.client_secret not in message


def test_readers_of_one_run_share_a_token_and_a_refused_one_is_replaced_once(
        generated: GeneratedDistrict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = SandboxCredentials()
    monkeypatch.setenv(ENV["client_id"], creds.client_id)
    monkeypatch.setenv(ENV["client_secret"], creds.client_secret)
    run = TokenCacheDir(tmp_path / "tokens", "run-1")
    with SandboxSIS(generated.oneroster_dir, profile="oneroster") as sis:
        district = district_config(sis, version="1.2")

        def read(where: TokenCacheDir) -> None:
            with OneRosterClient(district, token_cache=where) as reader:
                assert reader.records("orgs")

        def tokens() -> int:
            return sum(1 for _m, path, _s in sis.request_log if path == "/oauth/token")

        for _ in range(3):  # three steps of one run: one token
            read(run)
        assert tokens() == 1
        sis.expire_tokens()  # the SIS revokes it: the next step renews once, the rest reuse
        for _ in range(2):
            read(run)
        assert tokens() == 2
        read(TokenCacheDir(tmp_path / "tokens", "run-2"))  # another run: its own token
        assert tokens() == 3
        # The cache is useless without the client secret: another secret fetches afresh.
        monkeypatch.setenv(ENV["client_secret"], "not-the-secret")
        with OneRosterClient(district, token_cache=run) as reader, \
                pytest.raises(OneRosterAuthError):
            reader.records("orgs")
    assert tokens() == 4
