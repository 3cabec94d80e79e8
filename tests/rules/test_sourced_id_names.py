"""sourcedId names made unambiguously (issue 17, item 10): parts are percent-escaped before they
are joined with `/`, so no two different keys share a sourcedId, and a key whose parts hold no
`/` and no `%` keeps the sourcedId it always had (the district's ledger is keyed by them)."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

import duckdb

from assets.transform.sourced_ids import (
    NAMESPACE,
    digest_sql,
    escape,
    name_for,
    name_sql,
    sourced_id,
    uuid_from_digest_sql,
)
from tests.rules.helpers import World, run_rules

# sourcedIds the code made before the escaping (computed with the commit before it): these
# objects are in districts' SIS and ledgers, so they must never change.
BEFORE = {
    ("demo", "line_item", "ca1"): "8d46a5f2-847d-53bd-980d-0fe651d640a2",
    ("demo", "result", "ca1", "s1"): "85e4a433-a483-5f87-ae00-fdd1ca8b4dcd",
    ("reldist", "result", "ca-0001", "stu 7ü"): "105474f5-1cc1-5a2d-9ea9-c94aad196cc0",
}
# Short strings over the characters that matter: every pair of them, joined, is a name.
ALPHABET = ("a", "/", "%", "2", "F")
PARTS = ["".join(p) for n in range(4) for p in itertools.product(ALPHABET, repeat=n)]


def test_the_colliding_pair_of_the_issue_now_differs() -> None:
    assert sourced_id("d", "result", "ca1/x", "y") != sourced_id("d", "result", "ca1", "x/y")
    # An escape sequence typed literally is not the character it escapes.
    assert sourced_id("d", "result", "a%2Fb", "c") != sourced_id("d", "result", "a/b", "c")


def test_ordinary_parts_keep_their_sourced_ids() -> None:
    for parts, before in BEFORE.items():
        assert sourced_id(*parts) == before, parts
    # The same as the old formula, literally, for parts with neither `/` nor `%`.
    for parts in itertools.product(("ca1", "stu-9", "Ω x", "a.b:c", "0012"), repeat=2):
        old = str(uuid.uuid5(NAMESPACE, "/".join(("demo", "result", *parts))))
        assert sourced_id("demo", "result", *parts) == old, parts


def test_names_are_injective_over_every_short_pair() -> None:
    names: dict[str, tuple[str, str]] = {}
    for pair in itertools.product(PARTS, repeat=2):
        name = name_for("d", "result", *pair)
        assert names.setdefault(name, pair) == pair, (pair, names[name])
    assert len(names) == len(PARTS) ** 2
    assert all("/" not in escape(part) for part in PARTS)


def test_sql_names_and_uuids_match_python_on_awkward_parts() -> None:
    pairs = [*itertools.product(["ca1/x", "ca1", "x/y", "y", "%", "%2F", "a%25/b", "ü/ß", ""],
                                repeat=2)]
    conn = duckdb.connect()
    conn.register("pairs", duckdb.sql("SELECT unnest($a) AS a, unnest($b) AS b",
                                      params={"a": [p[0] for p in pairs],
                                              "b": [p[1] for p in pairs]}).arrow())
    name = name_sql("'d/x'", "result", "a", "b")
    got = conn.sql(f"SELECT a, b, n, {uuid_from_digest_sql('h')} FROM "
                   f"(SELECT a, b, {name} AS n, {digest_sql(name)} AS h FROM pairs)").fetchall()
    assert len(got) == len(pairs)
    for a, b, sql_name, sql_id in got:
        assert sql_name == name_for("d/x", "result", a, b)
        assert sql_id == sourced_id("d/x", "result", a, b)


def test_the_rules_give_two_keys_that_used_to_collide_two_results(tmp_path: Path) -> None:
    world = World()
    assignment = world.first("otus.class_assignments")
    world.tables["otus.class_assignments"] = [
        {**assignment, "assignment_id": "ca1/x"}, {**assignment, "assignment_id": "ca1"}]
    for student in ("y", "x/y"):
        world.tables["sis.users"].append(
            {"sourced_id": student, "role": "student", "status": "active"})
        world.tables["sis.enrollments"].append(
            {"sourced_id": f"e-{student}", "class_sourced_id": "c1", "user_sourced_id": student,
             "role": "student", "status": "active"})
    score = world.first("otus.scores")
    world.tables["otus.scores"] = [{**score, "assignment_id": "ca1/x", "student_sourced_id": "y"},
                                   {**score, "assignment_id": "ca1",
                                    "student_sourced_id": "x/y"}]
    out = run_rules(world, tmp_path / "rules.duckdb")
    results = dict(zip(zip(out.results["assignment_id"], out.results["student_sourced_id"],
                           strict=True), out.results["sourced_id"], strict=True))
    assert results == {("ca1/x", "y"): sourced_id("demo", "result", "ca1/x", "y"),
                       ("ca1", "x/y"): sourced_id("demo", "result", "ca1", "x/y")}
    assert len(set(results.values())) == 2
    # The ordinary line item keeps the sourcedId it had before the escaping.
    line_items = dict(zip(out.line_items["assignment_id"], out.line_items["sourced_id"],
                          strict=True))
    assert line_items["ca1"] == BEFORE[("demo", "line_item", "ca1")]
