"""The fast "certainly valid" check never accepts what jsonschema refuses."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.oneroster.fastcheck import compile_check
from pipeline.oneroster.spec import validators
from tests.sandbox.helpers import line_item_11, line_item_12, result_11, result_12

CASES = [
    ("gradebook", "SingleLineItemDType", line_item_12("li-1")),
    ("gradebook", "SingleResultDType", result_12("r-1", "li-1", "stu-1")),
    ("gradebook", "LineItemSetDType", {"lineItems": [line_item_12("li-1")["lineItem"]]}),
    ("v1p1", "SingleLineItem.Type", line_item_11("li-1")),
    ("v1p1", "SingleResult.Type", result_11("r-1", "li-1", "stu-1")),
]
ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-2, 2),
                       st.sampled_from(["", "fully graded", "ext:x", "lineItem", "class"]),
                       st.just({}), st.just([]), st.just({"sourcedId": "x"}))


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _paths(value, (*prefix, key))
    return found


def _mutate(body: dict, path: tuple, action: str, value: Any) -> dict:
    body = copy.deepcopy(body)
    if not path:
        return body
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete":
        del parent[path[-1]]
    elif action == "replace":
        parent[path[-1]] = value
    elif isinstance(parent[path[-1]], dict):
        parent[path[-1]]["extraField"] = value
    return body


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(case=st.sampled_from(CASES), data=st.data())
def test_fast_check_agrees_with_jsonschema(case: tuple, data: st.DataObject) -> None:
    document, schema, body = case
    spec = validators(document)
    path = data.draw(st.sampled_from(_paths(body)))
    action = data.draw(st.sampled_from(["delete", "replace", "extend"]))
    mutated = _mutate(body, path, action, data.draw(ODD_VALUES))
    fast = compile_check(spec.validator(schema).schema)
    assert fast is not None
    if fast(mutated):
        assert spec.validator(schema).is_valid(mutated), mutated


def test_unknown_keywords_are_not_compiled() -> None:
    assert compile_check({"type": "object", "patternProperties": {"^x": {}}}) is None
    assert compile_check({"type": "object", "properties": {"n": {"type": "integer"}}}) is not None
