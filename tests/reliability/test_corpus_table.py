"""The corpus table in corpus/README.md and the cases in code list the same ids."""

from __future__ import annotations

import re
from pathlib import Path

from tests.reliability.corpus.otus_cases import OTUS_CASES
from tests.reliability.corpus.sis_cases import SIS_CASES

README = Path(__file__).with_name("corpus") / "README.md"
RULE_CASES = {"otus-negative-points-possible", "otus-unknown-class", "otus-negative-score",
              "otus-unknown-student"}


def test_table_matches_the_cases() -> None:
    """A case added in code is in the table, and the table names no case that is not run."""
    listed = re.findall(r"^\| ((?:otus|sis)-[a-z0-9-]+) \|", README.read_text(), re.MULTILINE)
    in_code = {c.id for c in OTUS_CASES} | {c.id for c in SIS_CASES} | RULE_CASES
    assert len(listed) == len(set(listed))
    assert set(listed) == in_code
    assert len(in_code) >= 30
