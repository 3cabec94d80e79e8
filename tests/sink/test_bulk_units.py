"""The parts of bulk writes that need no server: grouping into bodies, reading the SIS's
sourcedId pairs, the bulk paths, the district settings and the write mode chosen."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from pipeline.oneroster.bodies import set_problem
from pipeline.oneroster.models import sourced_id_pairs
from pipeline.oneroster.references import Hrefs
from pipeline.oneroster.writer import bulk_path
from pipeline.sink.bulk import Batcher, choose_write_mode, remember_capabilities
from pipeline.sink.plan import Action
from pipeline.warehouse import connect
from tests.sink.helpers import district_config

SIS = SimpleNamespace(url="http://127.0.0.1:9", token_url="http://127.0.0.1:9/oauth/token")


def _create(n: int, size: int = 100) -> Action:
    return Action("results", f"r-{n}", "create", "gp", "li-1", body=b"x" * size)


def test_bodies_close_at_the_record_limit_and_the_byte_limit() -> None:
    by_records = Batcher("results", max_records=3, max_bytes=10**6)
    done = [b for n in range(7) for b in by_records.add(("lineItem", "li-1"), _create(n), {})]
    done += list(by_records.flush())
    assert [len(b.actions) for b in done] == [3, 3, 1]
    # Each record counts its body plus 400 bytes of hrefs: two of 600 fit under 1,300.
    by_bytes = Batcher("results", max_records=100, max_bytes=1300)
    done = [b for n in range(5) for b in by_bytes.add(("c",), _create(n, 200), {})]
    done += list(by_bytes.flush())
    assert [len(b.actions) for b in done] == [2, 2, 1]


def test_open_bodies_are_bounded_whatever_the_order() -> None:
    batcher = Batcher("results", max_records=10, max_bytes=10**6)
    held = 0
    for n in range(2000):  # 500 classes, round robin: no body ever fills by itself
        for batch in batcher.add(("class", f"c-{n % 500}"), _create(n), {}):
            held -= len(batch.actions)
        held += 1
        assert held <= 8 * 10 + 1
    assert sum(len(b.actions) for b in batcher.flush()) == held


def test_a_refused_body_splits_in_halves_keeping_records_with_actions() -> None:
    batcher = Batcher("results", max_records=5, max_bytes=10**6)
    [batch] = [b for n in range(5) for b in batcher.add(("c",), _create(n), {"n": n})]
    left, right = batch.halves()
    assert [a.sourced_id for a in left.actions] == ["r-0", "r-1"]
    assert [r["n"] for r in right.records] == [2, 3, 4]


def test_sourced_id_pairs_are_read_tolerantly() -> None:
    answer = {"sourcedIdPairs": [
        {"suppliedSourcedId": "a", "allocatedSourcedId": "sis-a"},
        {"suppliedSourcedId": "b"},  # no allocated id: the supplied one stands
        {"SuppliedSourcedID": "c", "AllocatedSourcedID": "sis-c"},  # odd spelling
        "garbage", {"allocatedSourcedId": "orphan"}]}
    assert sourced_id_pairs(answer) == {"a": "sis-a", "b": "b", "c": "sis-c"}
    assert sourced_id_pairs(None) == {} and sourced_id_pairs({"sourcedIdPairs": 3}) == {}


def test_bulk_paths_and_the_set_schema() -> None:
    assert bulk_path("line_items", ("class", "c 1")) == "/classes/c%201/lineItems"
    assert bulk_path("results", ("lineItem", "li/1")) == "/lineItems/li%2F1/results"
    assert bulk_path("results", ("class", "c", "academicSession", "gp")) == \
        "/classes/c/academicSessions/gp/results"
    with pytest.raises(ValueError, match="no bulk POST"):
        bulk_path("line_items", ("lineItem", "x"))
    assert set_problem("results", {"results": []}) is None
    assert "sourcedId" in (set_problem("results", {"results": [{"score": 1}]}) or "")


@pytest.mark.parametrize("sourced_id", ["li-1", 'é"quoted\\slash/', "line\u2028sep"])
def test_hrefs_linked_in_encoded_records_equal_those_linked_decoded(sourced_id: str) -> None:
    hrefs = Hrefs("https://sis.example/ims/oneroster/rostering/v1p2",
                  "https://sis.example/ims/oneroster/gradebook/v1p2")
    record = {"sourcedId": "r-1", "title": '{"sourcedId":"no","type":"class"}',
              "lineItem": {"sourcedId": sourced_id, "type": "lineItem"},
              "student": {"sourcedId": "s-1", "type": "user"},
              "other": {"sourcedId": "x", "type": "unknownType"}, "score": 1.0}
    encoded = json.dumps(record, separators=(",", ":")).encode()
    assert hrefs.link_json(encoded) == \
        json.dumps(hrefs.link(record), separators=(",", ":")).encode()


def test_the_settings_are_validated_with_clear_errors() -> None:
    with pytest.raises(ValidationError, match="bulk_writes: on needs oneroster_version"):
        district_config(SIS, version="1.1", auth="oauth1", bulk_writes="on")
    with pytest.raises(ValidationError, match="bulk_writes"):
        district_config(SIS, bulk_writes="sometimes")
    with pytest.raises(ValidationError, match="bulk_max_records"):
        district_config(SIS, bulk_max_records=0)


def test_the_write_mode_follows_the_setting_and_what_is_remembered(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    auto = district_config(SIS, bulk_writes="auto")
    with connect(path) as conn:
        assert choose_write_mode(conn, district_config(SIS, version="1.1",
                                                       auth="oauth1")).mode == "put"
        assert choose_write_mode(conn, district_config(SIS, bulk_writes="off")).mode == "put"
        first = choose_write_mode(conn, auto)
        assert (first.mode, first.probe) == ("bulk", True)
    remember_capabilities(lambda: connect(path), auto.district, bulk=False, allocates_ids=None,
                          detail="HTTP 405")
    with connect(path) as conn:
        remembered = choose_write_mode(conn, auto)
        assert remembered.mode == "put" and "did not offer" in remembered.reason
        assert choose_write_mode(conn, district_config(SIS, bulk_writes="on")).mode == "bulk"
        later = choose_write_mode(conn, auto, now=datetime.now(UTC) + timedelta(days=31))
        assert (later.mode, later.probe) == ("bulk", True)  # tried again after 30 days
