"""Regression: schema keywords are stripped when inlining, property names are not.

`description` and `title` are both annotation keywords and OneRoster property names; the
sandbox once dropped the `description` property and refused every 1.2 line item that had one.
"""

from __future__ import annotations

from pipeline.oneroster.spec import SpecValidators, load_document

REFERENCE = {"href": "https://sis.example/x", "sourcedId": "x", "type": "class"}


def line_item(**extra: object) -> dict[str, object]:
    record = {
        "sourcedId": "li-1", "status": "active", "dateLastModified": "2026-11-01T00:00:00.000Z",
        "title": "Unit 3 quiz", "assignDate": "2026-11-02", "dueDate": "2026-11-09",
        "class": {**REFERENCE, "type": "class"}, "school": {**REFERENCE, "type": "org"},
        "category": {**REFERENCE, "type": "category"}, **extra,
    }
    return {"lineItem": record}


def test_description_property_is_accepted_on_a_1_2_line_item() -> None:
    validators = SpecValidators(load_document("gradebook"))
    assert validators.problems("SingleLineItemDType", line_item(description="Chapters 1-3")) == []


def test_an_unknown_property_is_still_refused() -> None:
    validators = SpecValidators(load_document("gradebook"))
    [problem] = validators.problems("SingleLineItemDType", line_item(weight=2))
    assert "weight" in problem.message
