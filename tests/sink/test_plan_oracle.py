"""The SQL plan equals the Python planner it replaced (tooling/bench/baseline_plan.py), action
by action, on a generated district in every state a partition goes through: first sync, after
a sync (some payloads refused), after changes in Otus (updates, removals, a refused line item
written again), reconciled with a SIS read (restored, edited, lost, stored its own way), a
closed grading period, rows that break the spec, for OneRoster 1.1 and 1.2.

The ledger is the Python planner's (`v2:` hashes), as an upgrade finds it: the SQL plan must
recognise each of those hashes, and plan the same again once it rewrote them to `v3:`.
"""

from __future__ import annotations

import copy
import itertools
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from assets.transform.rules_run import compute_partition, write_partition
from pipeline.config import DistrictConfig
from pipeline.rule_settings import RunSettings
from pipeline.sink.ledger import REJECTED, SENT, Outcome, write_outcomes
from pipeline.sink.payloads import HASH_PREFIX, V2_PREFIX
from pipeline.sink.plan import PUTS, Action, SyncPlan
from pipeline.sink.planner import plan_partition
from pipeline.warehouse import connect
from tests.rules.generated import load_generated
from tooling.bench import baseline_plan

pytestmark = pytest.mark.slow  # generates a district and runs the rules

generate = pytest.importorskip("tooling.generate.district")
AS_OF = date(2026, 11, 2)
SENT_AT = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)


@dataclass
class District:
    """A generated district after its rules ran, and the grading period planned here."""

    path: Path
    raw: dict[str, Any]
    grading_period: str

    def config(self, **passback: Any) -> DistrictConfig:
        """The district file, with passback settings changed."""
        raw = copy.deepcopy(self.raw)
        raw["passback"] = {**raw.get("passback", {}), **passback}
        if passback.get("propagate_deletions"):  # deleting needs the scope to
            version = "v1p2" if raw["sis"].get("oneroster_version") == "1.2" else "v1p1"
            raw["sis"]["auth"].setdefault("scopes", []).append(
                f"https://purl.imsglobal.org/spec/or/{version}/scope/gradebook.delete")
        return DistrictConfig.model_validate(raw)


def _generated(folder: Path, profile: str) -> District:
    made = generate.generate_district(folder / "gen", students=60, seed=5, profile=profile,
                                      as_of=AS_OF)
    path = folder / "warehouse.duckdb"
    load_generated(made.otus_dir, made.oneroster_dir, path, made.district)
    raw = yaml.safe_load(made.mapping_file.read_text(encoding="utf-8"))
    settings = RunSettings.from_config(DistrictConfig.model_validate(raw), made.as_of)
    with duckdb.connect(str(path)) as conn:
        periods = [row[0] for row in conn.execute(
            "SELECT sourced_id FROM sis.academic_sessions WHERE type = 'gradingPeriod' "
            "ORDER BY start_date").fetchall()]
        for gp in periods:
            run = compute_partition(conn, settings, gp)
            write_partition(conn, run, f"rules-{gp}")
        # The period with the most results: the one whose plan says the most.
        [(busiest,)] = conn.execute(
            "SELECT grading_period_sourced_id FROM passback.results "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchall()
    return District(path, raw, busiest)


@pytest.fixture(scope="module", params=["skyward", "infinite_campus"])
def generated(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> District:
    """One generated district per profile (1.1 and 1.2), its rules run once."""
    return _generated(tmp_path_factory.mktemp(request.param), request.param)


@pytest.fixture
def district(generated: District, tmp_path: Path) -> District:
    """A copy of the generated warehouse for one test to change."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(generated.path, path)
    return District(path, generated.raw, generated.grading_period)


def _plans(district: District, **passback: Any) -> tuple[SyncPlan, SyncPlan]:
    config = district.config(**passback)
    with connect(district.path) as conn:
        old = baseline_plan.plan_partition(conn, config, district.grading_period, as_of=AS_OF)
        new = plan_partition(conn, config, district.grading_period, as_of=AS_OF)
    return old, new


def _shown(action: Action) -> tuple[Any, ...]:
    record = action.record
    if record is not None:
        record.pop("dateLastModified")  # the time of planning, not content
    return (action.entity, action.sourced_id, action.action, action.line_item_sourced_id,
            action.reason, record, action.changes)


def _assert_send_order(actions: list[Action]) -> None:
    """Line items before results, each class's writes together (line items by sourcedId
    within their class, results by line item then sourcedId), removals last."""
    writes = [a for a in actions if a.action in PUTS or a.body is not None]
    entities = [a.entity for a in writes]
    assert entities == sorted(entities, key=lambda e: e == "results")
    line_items = [((a.record or {})["class"]["sourcedId"], a.sourced_id)
                  for a in writes if a.entity == "line_items"]
    assert line_items == sorted(line_items)
    results = [(a.line_item_sourced_id, a.sourced_id) for a in writes if a.entity == "results"]
    # A line item's results come together, by sourcedId (the class order is the line items':
    # a 1.1 result names no class).
    groups = [li for li, _ in itertools.groupby(li for li, _ in results)]
    assert len(groups) == len(set(groups))
    assert all(ids == sorted(ids) for ids in (
        [r for li, r in results if li == one] for one in groups))


def assert_same_plan(district: District, **passback: Any) -> SyncPlan:
    """Both planners on the same warehouse: the same counts and the same actions (unchanged
    ones only counted), the SQL plan's in send order (class by class, for bulk bodies: the
    old planner's was by sourcedId alone); returns the SQL plan."""
    old, new = _plans(district, **passback)
    assert new.counts() == old.counts()
    expected = [_shown(a) for a in old.actions if a.action != "unchanged"]
    assert sorted(map(repr, map(_shown, new.actions))) == sorted(map(repr, expected))
    _assert_send_order(new.actions)
    assert all(a.payload_hash and a.payload_hash.startswith(HASH_PREFIX)
               for a in new.actions if a.action in PUTS)
    return new


def _send(district: District, plan: SyncPlan, refuse: set[str] = frozenset()) -> None:
    """Record every write of the Python planner's plan as the SIS's answer (`refuse`d
    sourcedIds refused), as an older release would have left the ledger."""
    outcomes = [Outcome(plan.district, a.entity, a.sourced_id, a.grading_period_sourced_id,
                        a.line_item_sourced_id, a.payload_hash,
                        REJECTED if a.sourced_id in refuse else
                        ("deleted" if a.action == "delete" else SENT),
                        422 if a.sourced_id in refuse else 200, 1,
                        "refused" if a.sourced_id in refuse else None, SENT_AT, "old-run")
                for a in plan.actions if a.action in (*PUTS, "delete")]
    with connect(district.path) as conn:
        write_outcomes(conn, outcomes)


def _old_plan(district: District, **passback: Any) -> SyncPlan:
    with connect(district.path) as conn:
        return baseline_plan.plan_partition(conn, district.config(**passback),
                                            district.grading_period, as_of=AS_OF)


def _ids(district: District, sql: str) -> list[str]:
    with connect(district.path) as conn:
        params = {"gp": district.grading_period} if "$gp" in sql else {}
        return [row[0] for row in conn.execute(sql, params).fetchall()]


def _synced(district: District) -> tuple[str, list[str]]:
    """Send the first plan with one line item and a few results refused; return them."""
    line_items = _ids(district, "SELECT sourced_id FROM passback.line_items WHERE "
                                "grading_period_sourced_id = $gp ORDER BY sourced_id")
    refused_line_item = line_items[1]
    # Three results refused on their own, two under the refused line item (blocked after).
    refused_results = _ids(district, "SELECT sourced_id FROM passback.results WHERE "
                                     "grading_period_sourced_id = $gp AND line_item_sourced_id "
                                     f"<> '{refused_line_item}' ORDER BY sourced_id "
                                     "LIMIT 3 OFFSET 10")
    refused_results += _ids(district, "SELECT sourced_id FROM passback.results WHERE "
                                      f"line_item_sourced_id = '{refused_line_item}' "
                                      "ORDER BY sourced_id LIMIT 2")
    _send(district, _old_plan(district), {refused_line_item, *refused_results})
    return refused_line_item, refused_results


def _rehash(district: District, plan: SyncPlan) -> int:
    """What `run_sync` does with the hashes the SQL plan recognised."""
    found = plan.legacy_hashes()
    with connect(district.path) as conn:
        conn.executemany("UPDATE passback.sync_ledger SET payload_hash = ? WHERE entity = ? "
                         "AND sourced_id = ? AND payload_hash = ?",
                         [(a.payload_hash, a.entity, a.sourced_id, a.legacy_hash) for a in found])
    return len(found)


def _ledger_prefixes(district: District) -> set[str]:
    return {h[:3] for h in _ids(district, "SELECT payload_hash FROM passback.sync_ledger "
                                          "WHERE grading_period_sourced_id = $gp")}


def test_first_sync(district: District) -> None:
    plan = assert_same_plan(district)
    assert plan.counts()["create"] > 100 and plan.counts()["unchanged"] == 0


def test_after_a_sync_with_refusals_and_after_the_upgrade(district: District) -> None:
    _synced(district)
    plan = assert_same_plan(district)
    counts = plan.counts()
    assert counts["unchanged"] > 100 and counts["refused"] == 4 and counts["blocked"] > 0
    assert _ledger_prefixes(district) == {V2_PREFIX}
    # Every v2 hash is recognised: the ones sending nothing are rewritten, then planned alike.
    assert _rehash(district, plan) == counts["unchanged"] + counts["refused"]
    with connect(district.path) as conn:  # the Python planner cannot read v3: compare before
        again = plan_partition(conn, district.config(), district.grading_period, as_of=AS_OF)
    # Left as they were: the blocked results (their line item refused), sending nothing.
    assert again.counts() == counts and again.legacy is not None
    assert again.legacy.num_rows == counts["blocked"]
    assert [_shown(a) for a in again.actions] == [_shown(a) for a in plan.actions]
    assert len(_ids(district, "SELECT payload_hash FROM passback.sync_ledger WHERE "
                              f"grading_period_sourced_id = $gp AND payload_hash LIKE "
                              f"'{V2_PREFIX}%'")) == counts["blocked"]


def test_after_changes_in_otus(district: District) -> None:
    refused_line_item, _ = _synced(district)
    with connect(district.path) as conn:
        gp = {"gp": district.grading_period}
        # New scores, a new title on the refused line item (its refused results are retried),
        # and rows no longer accepted (removals).
        conn.execute("UPDATE passback.results SET score = score + 0.5 WHERE "
                     "grading_period_sourced_id = $gp AND hash(sourced_id) % 9 = 0", gp)
        conn.execute("UPDATE passback.line_items SET title = title || ' (rev)' "
                     "WHERE sourced_id = $li", {"li": refused_line_item})
        conn.execute("DELETE FROM passback.results WHERE grading_period_sourced_id = $gp "
                     "AND hash(sourced_id) % 11 = 1", gp)
    for propagate in (False, True):
        plan = assert_same_plan(district, propagate_deletions=propagate)
        counts = plan.counts()
        assert counts["update"] > 0 and counts["delete" if propagate else "stopped"] > 0
    assert any(a.reason == "refused before; its line item is written again"
               for a in plan.actions)


_MIRROR = """
INSERT INTO sis.line_items BY NAME
SELECT district, sourced_id, status, $modified AS date_last_modified, title, description,
       assign_date, due_date, class_sourced_id, category_sourced_id, grading_period_sourced_id,
       coalesce(result_value_min, 0.0) AS result_value_min, result_value_max
FROM passback.line_items;
INSERT INTO sis.results BY NAME
SELECT district, sourced_id, status, $modified AS date_last_modified, line_item_sourced_id,
       student_sourced_id, class_sourced_id, score_status, score, score_date
FROM passback.results;
INSERT OR REPLACE INTO passback.sis_reads
SELECT district, entity, $read, $read, 'full', 0, 0
FROM (SELECT DISTINCT district FROM passback.results),
     (VALUES ('line_items'), ('results')) v(entity)
"""


def _read_back(district: District) -> None:
    """The nightly read after the sync, then the SIS's own changes: a teacher's edits, lost
    writes, deleted records, and a value the SIS stores its own way though sent again."""
    with connect(district.path) as conn:
        for statement in _MIRROR.split(";\n"):
            conn.execute(statement, {k: v for k, v in {
                "modified": SENT_AT - timedelta(hours=1),
                "read": SENT_AT + timedelta(hours=1)}.items() if f"${k}" in statement})
        picked = ("WHERE sourced_id IN (SELECT sourced_id FROM passback.results WHERE "
                  "grading_period_sourced_id = $gp) AND hash(sourced_id) % 13 = {}")
        gp = {"gp": district.grading_period}
        conn.execute("UPDATE sis.results SET score = score + 1, date_last_modified = $later "
                     + picked.format(0), gp | {"later": SENT_AT + timedelta(minutes=30)})
        conn.execute("UPDATE sis.results SET score = score + 2 " + picked.format(1), gp)
        conn.execute("DELETE FROM sis.results " + picked.format(2), gp)
        conn.execute("UPDATE sis.line_items SET title = title || '!' WHERE sourced_id IN "
                     "(SELECT min(sourced_id) FROM sis.line_items "
                     "WHERE grading_period_sourced_id = $gp)", gp)
        conn.execute("UPDATE sis.results SET score = score + 0.001 " + picked.format(3), gp)
        conn.execute("INSERT INTO passback.sync_drift SELECT district, $gp, "
                     "'results', sourced_id, class_sourced_id, line_item_sourced_id, "
                     "student_sourced_id, NULL, 'score', '1', '2', 'overwrite', $seen, $seen, "
                     "NULL, 'old-run' FROM sis.results " + picked.format(3),
                     gp | {"seen": SENT_AT - timedelta(days=1)})


@pytest.mark.parametrize("sis_edits", ["overwrite", "keep"])
def test_reconciled_with_the_sis(district: District, sis_edits: str) -> None:
    _synced(district)
    _read_back(district)
    counts = assert_same_plan(district, sis_edits=sis_edits).counts()
    assert counts["restore"] > 0 and counts["kept"] > 0
    assert counts["overwrite"] > 0 if sis_edits == "overwrite" else counts["overwrite"] == 0


def test_a_closed_grading_period(district: District) -> None:
    _synced(district)
    with connect(district.path) as conn:
        conn.execute("UPDATE passback.results SET score = score + 0.5 WHERE "
                     "grading_period_sourced_id = $gp AND hash(sourced_id) % 5 = 0",
                     {"gp": district.grading_period})
    closed = {"closed_grading_periods": {"listed": [district.grading_period]}}
    counts = assert_same_plan(district, **closed).counts()
    assert counts["frozen"] > 0 and sum(counts[a] for a in PUTS) == 0


def test_rows_that_break_the_spec(district: District) -> None:
    with connect(district.path) as conn:
        gp = {"gp": district.grading_period}
        conn.execute("UPDATE passback.line_items SET status = 'archived' WHERE sourced_id IN "
                     "(SELECT min(sourced_id) FROM passback.line_items "
                     "WHERE grading_period_sourced_id = $gp)", gp)
        conn.execute("UPDATE passback.line_items SET school_sourced_id = NULL WHERE sourced_id IN "
                     "(SELECT max(sourced_id) FROM passback.line_items "
                     "WHERE grading_period_sourced_id = $gp)", gp)
        conn.execute("UPDATE passback.results SET score_status = CASE hash(sourced_id) % 3 "
                     "WHEN 0 THEN 'late' WHEN 1 THEN 'ext:late' ELSE 'not submmitted' END "
                     "WHERE grading_period_sourced_id = $gp AND hash(sourced_id) % 7 = 0", gp)
    plan = assert_same_plan(district)
    assert plan.counts()["invalid"] > 0 and plan.counts()["blocked"] > 0


def test_bodies_read_back_are_the_builders_records(district: District) -> None:
    """Floats stay floats, dates are local noon in UTC: the records equal, type for type."""
    old, new = _plans(district)
    records = {(a.entity, a.sourced_id): a.record for a in old.actions if a.body}
    for action in new.actions:
        record = action.record
        assert record is not None
        expected = records[action.entity, action.sourced_id]
        expected["dateLastModified"] = record["dateLastModified"]
        assert list(record) == list(expected)
        assert json.dumps(record) == json.dumps(expected)
