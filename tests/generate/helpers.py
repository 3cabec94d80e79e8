"""Constants and readers shared by the generator tests. Fixtures live in conftest.py; tests
import names from here, never from a conftest."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd

AS_OF = date(2026, 11, 20)
STUDENTS = 200
RULES_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "passback-rules.md"


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV as strings, empty cells as ''."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def rule_ids(section: str) -> list[str]:
    """The rule ids of one table (`Line-item rules` or `Result rules`) of the rule catalog."""
    text = RULES_FILE.read_text(encoding="utf-8")
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    ids = [m.group(1) for m in re.finditer(r"^\|\s*`([a-z_]+)`\s*\|", body, re.MULTILINE)]
    return list(dict.fromkeys(ids))
