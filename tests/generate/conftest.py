"""Generated districts shared by the generator tests: built once per session, small and fast."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from pipeline.generate import GeneratedDistrict, generate_district

AS_OF = date(2026, 11, 20)
STUDENTS = 200
RULES_FILE = Path(__file__).resolve().parents[3] / "shared" / "passback-rules.md"


@pytest.fixture(scope="session")
def campus(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDistrict:
    """An Infinite Campus district (OneRoster 1.2, OAuth 2) of 200 students."""
    return generate_district(tmp_path_factory.mktemp("campus"), students=STUDENTS, as_of=AS_OF)


@pytest.fixture(scope="session")
def skyward(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDistrict:
    """A Skyward district (OneRoster 1.1, OAuth 1) of 200 students."""
    return generate_district(tmp_path_factory.mktemp("skyward"), students=STUDENTS, as_of=AS_OF,
                             profile="skyward", district="north-valley", auth="oauth1", seed=11)


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV as strings, empty cells as ''."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def rule_ids(section: str) -> list[str]:
    """The rule ids of one table (`Line-item rules` or `Result rules`) of the rule catalog."""
    text = RULES_FILE.read_text(encoding="utf-8")
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    ids = [m.group(1) for m in re.finditer(r"^\|\s*`([a-z_]+)`\s*\|", body, re.MULTILINE)]
    return list(dict.fromkeys(ids))
