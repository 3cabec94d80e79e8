"""Same arguments, same bytes; another seed, other data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.generate.helpers import AS_OF
from tooling.generate import generate_district


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow  # over ~2 s: generates two districts
def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    first = generate_district(tmp_path / "a", students=80, seed=5, as_of=AS_OF)
    second = generate_district(tmp_path / "b", students=80, seed=5, as_of=AS_OF)
    assert first.counts == second.counts
    digests = _digests(tmp_path / "a")
    assert len(digests) == 5 + 8 + 1 + 1  # otus, oneroster, district file, planted
    assert digests == _digests(tmp_path / "b")


def test_same_seed_gives_identical_parquet(tmp_path: Path) -> None:
    for name in ("a", "b"):
        generate_district(tmp_path / name, students=80, seed=5, as_of=AS_OF, fmt="parquet")
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")


@pytest.mark.slow  # over ~2 s: generates two districts
def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    generate_district(tmp_path / "a", students=80, seed=5, as_of=AS_OF)
    generate_district(tmp_path / "b", students=80, seed=6, as_of=AS_OF)
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    for entity in ("scores", "assessments", "class_assignments"):
        assert a[f"otus/{entity}.csv"] != b[f"otus/{entity}.csv"], entity


@pytest.mark.slow  # over ~2 s: generates two districts
def test_regenerating_into_the_same_folder_replaces_it(tmp_path: Path) -> None:
    generate_district(tmp_path, students=80, seed=5, as_of=AS_OF, fmt="parquet")
    generate_district(tmp_path, students=80, seed=5, as_of=AS_OF, fmt="csv")
    # The contract allows exactly one file per entity: no stale parquet beside the csv.
    assert sorted(p.name for p in (tmp_path / "otus").iterdir()) == [
        "assessments.csv", "class_assignments.csv", "passback_group.csv", "scores.csv",
        "users.csv"]
