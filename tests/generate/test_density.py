"""`--planted-share`: the commands' default district looks like a real one (few refusals) and
still plants every rule; the dense district the other tests use is one option away."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.generate.helpers import AS_OF, read_csv, rule_ids
from tooling.generate import GeneratedDistrict, generate_district
from tooling.generate.command import add_planted_share
from tooling.generate.plants import DENSE_PLANTED_SHARE, REALISTIC_PLANTED_SHARE

# Whole-gradebook cases: a closed grading period, and the roster's always-planted teacher outside
# the passback group and class missing from the SIS (one each, whatever the share, so their
# weight depends on the district's size, not on the density).
ROSTER_WIDE = ("in_closed_period", "teacher_not_in_group", "class_dropped_from_sis")


def _refused_share(district: GeneratedDistrict) -> float:
    """Share of the district's class assignments planted to be refused at line-item level by
    an assessment or class-assignment case."""
    planted = read_csv(district.planted)
    refused = planted[(planted["entity"] == "line_item") & (planted["expect"] == "reject")
                      & ~planted["case_name"].isin(ROSTER_WIDE)]
    assignments = read_csv(district.otus_dir / "class_assignments.csv")
    return refused["assignment_id"].nunique() / len(assignments)


def test_every_rule_is_planted_at_the_realistic_density(realistic: GeneratedDistrict) -> None:
    planted = read_csv(realistic.planted)
    for rule in rule_ids("Line-item rules") + rule_ids("Result rules"):
        assert (planted["rule_id"] == rule).any(), f"nothing planted for {rule}"


def test_the_realistic_district_refuses_far_less_than_the_dense_one(
        realistic: GeneratedDistrict, campus: GeneratedDistrict) -> None:
    dense, real = _refused_share(campus), _refused_share(realistic)
    assert dense > 0.08, dense  # the district the other generator tests check rule by rule
    # Each case stays planted at least once: in 200 students that floor is most of it.
    assert real < 0.06 and real < dense / 2, (real, dense)


def test_the_commands_default_to_the_realistic_share() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_planted_share(parser)
    assert parser.parse_args([]).planted_share == REALISTIC_PLANTED_SHARE
    assert parser.parse_args(["--planted-share", str(DENSE_PLANTED_SHARE)]).planted_share \
        == DENSE_PLANTED_SHARE


def test_a_share_out_of_range_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="planted_share must be between 0 and"):
        generate_district(tmp_path / "d", students=20, as_of=AS_OF, planted_share=2.0)
    assert not (tmp_path / "d").exists()


def test_results_planted_for_scores_scale_too(realistic: GeneratedDistrict,
                                              campus: GeneratedDistrict) -> None:
    def excluded(district: GeneratedDistrict) -> int:
        planted = read_csv(district.planted)
        return int(pd.Series(planted["rule_id"] == "excluded_score").sum())

    assert 0 < excluded(realistic) < excluded(campus) / 3
