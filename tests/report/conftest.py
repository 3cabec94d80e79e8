"""Fixtures for the report tests: a generated district through the rules with its reports,
once with student names off (the default) and once with the district's names setting on."""

from __future__ import annotations

import pytest

from tests.report.helpers import District, run_generated


@pytest.fixture(scope="session")
def district(tmp_path_factory: pytest.TempPathFactory) -> District:
    """60 students on Infinite Campus; every grading period reported, teachers' files on."""
    pytest.importorskip("tooling.generate")
    return run_generated(tmp_path_factory.mktemp("report-district"))


@pytest.fixture(scope="session")
def named_district(tmp_path_factory: pytest.TempPathFactory) -> District:
    """The same district with `report.student_names` on."""
    pytest.importorskip("tooling.generate")
    return run_generated(tmp_path_factory.mktemp("report-named"), student_names=True)
