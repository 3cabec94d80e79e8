"""A payload's identity is what the SIS stores, not where the SIS is reached: moving a district
to another base URL sends nothing, a change after the move is sent with the new hrefs, and a
ledger hashed the old way (hrefs included) is recognised rather than silently re-sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipeline.config import DistrictConfig
from pipeline.oneroster.references import Hrefs
from pipeline.sink import run_sync
from pipeline.sink.payloads import HASH_PREFIX, legacy_payload_hash
from pipeline.warehouse import connect
from tests.sink.helpers import (
    AS_OF,
    GP_FALL,
    Gradebook,
    connector,
    district_config,
    quick_client,
    sync,
    writes,
)
from tooling.sandbox import SandboxSIS

pytestmark = pytest.mark.slow  # every test here starts a server


@contextmanager
def sandbox_at(bundle: Path, state: Path) -> Iterator[SandboxSIS]:
    """The sandbox SIS on a fresh port, holding what earlier instances stored in `state`."""
    with SandboxSIS(bundle, profile="oneroster", state_path=state) as sis:
        yield sis


def sync_recording(gradebook: Gradebook, config: DistrictConfig) -> tuple[object, list[dict]]:
    """One sync with the real writer; also returns every PUT body as it went on the wire."""
    bodies: list[dict] = []
    with quick_client(config) as client:
        send = client.transport.send

        def recording(method: str, url: str, **options: object) -> object:
            if method == "PUT":
                bodies.append(json.loads(options["body"]))  # type: ignore[arg-type]
            return send(method, url, **options)

        client.transport.send = recording  # type: ignore[method-assign]
        report = run_sync(config, GP_FALL, client=client, connect=connector(gradebook.path),
                          as_of=AS_OF, lock_dir=gradebook.path.parent / "locks",
                          log=lambda line: None)
    return report, bodies


def test_a_new_base_url_sends_nothing_and_a_later_change_uses_it(
        bundle: Path, credentials_env: None, gradebook: Gradebook, tmp_path: Path) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    state = tmp_path / "sis-state.jsonl"
    with sandbox_at(bundle, state) as before:
        old_port = before.port
        assert sync(gradebook, district_config(before)).counters.sent == 2 + 6

    with sandbox_at(bundle, state) as after:  # the same SIS, restarted on another port
        assert after.port != old_port
        config = district_config(after)
        moved = sync(gradebook, config)
        assert moved.planned["create"] == moved.planned["update"] == 0
        assert moved.requests == 0 and writes(after) == []

        gradebook.set_score("res-li-0000-0", 9.5)
        gradebook.save()
        changed, bodies = sync_recording(gradebook, config)

        assert changed.planned["update"] == 1 and changed.counters.sent == 1
        assert [path for _, path, _ in writes(after)] == \
            ["/ims/oneroster/gradebook/v1p2/results/res-li-0000-0"]
        [body] = bodies
        assert body["result"]["score"] == 9.5
        assert body["result"]["lineItem"]["href"] == f"{after.gradebook_url}/lineItems/li-0000"
        assert body["result"]["student"]["href"] == f"{after.rostering_url}/users/student-0"
        assert after.store.result("res-li-0000-0")["score"] == 9.5


def _age_the_ledger(gradebook: Gradebook, hrefs: Hrefs) -> int:
    """Rewrite the ledger's hashes as a release before `v2:` computed them (over the body
    with its hrefs), from the payloads the last plan recorded."""
    with connect(gradebook.path) as conn:
        planned = conn.execute("SELECT entity, sourced_id, payload FROM passback.sync_plan "
                               "WHERE payload IS NOT NULL").fetchall()
        for entity, sourced_id, payload in planned:
            body = hrefs.link(json.loads(payload))
            assert "href" in body["lineItem" if entity == "results" else "class"]
            conn.execute("UPDATE passback.sync_ledger SET payload_hash = ? WHERE entity = ? "
                         "AND sourced_id = ?", [legacy_payload_hash(body), entity, sourced_id])
    return len(planned)


def _hashes(gradebook: Gradebook) -> list[str]:
    with connect(gradebook.path) as conn:
        return [row[0] for row in conn.execute(
            "SELECT payload_hash FROM passback.sync_ledger").fetchall()]


def test_an_old_ledger_is_recognised_and_upgraded_without_resending(
        bundle: Path, credentials_env: None, gradebook: Gradebook, tmp_path: Path) -> None:
    gradebook.add_line_items(2)
    gradebook.save()
    state = tmp_path / "sis-state.jsonl"
    with sandbox_at(bundle, state) as sis:
        config = district_config(sis)
        sync(gradebook, config)
        assert _age_the_ledger(gradebook, Hrefs.for_sis(config.sis)) == 8
        assert not any(h.startswith(HASH_PREFIX) for h in _hashes(gradebook))
        gradebook.set_score("res-li-0001-1", 4.0)
        gradebook.save()
        lines: list[str] = []

        upgraded = sync(gradebook, config, log=lines.append)

        # The change is sent; the rest is recognised as held, and its hash rewritten.
        assert upgraded.planned["update"] == 1 and upgraded.planned["unchanged"] == 7
        assert [p for _, p, _ in writes(sis)][-1].endswith("/results/res-li-0001-1")
        assert any("7 hashes from before" in line for line in lines)
        assert all(h.startswith(HASH_PREFIX) for h in _hashes(gradebook))

    with sandbox_at(bundle, state) as moved:  # and now a move of the base URL costs nothing
        assert sync(gradebook, district_config(moved)).requests == 0


def test_an_old_hash_under_a_moved_base_url_is_resent_with_a_reason(
        bundle: Path, credentials_env: None, gradebook: Gradebook, tmp_path: Path) -> None:
    gradebook.add_line_items(1)
    gradebook.save()
    state = tmp_path / "sis-state.jsonl"
    with sandbox_at(bundle, state) as before:
        config = district_config(before)
        sync(gradebook, config)
        _age_the_ledger(gradebook, Hrefs.for_sis(config.sis))

    with sandbox_at(bundle, state) as after:
        report = sync(gradebook, district_config(after))
        # An old hash covers the old base URL: it cannot tell a move from a change, so it
        # sends once (never skips), and says why in the plan.
        assert report.planned["update"] == 4 and report.counters.sent == 4
        with connect(gradebook.path) as conn:
            reasons = {row[0] for row in conn.execute(
                "SELECT reason FROM passback.sync_plan WHERE action = 'update'").fetchall()}
        assert len(reasons) == 1 and "predates" in reasons.pop()
        assert sync(gradebook, district_config(after)).requests == 0
