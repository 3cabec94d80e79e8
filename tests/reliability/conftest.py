"""Fixtures: one small generated district per test session, copied into each test's own
workspace, and sandboxes serving it on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.helpers import AS_OF, STUDENTS, Workspace
from tooling.generate import GeneratedDistrict, generate_district


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDistrict:
    """A plain OneRoster 1.2 district (OAuth 2, so tokens can expire mid-run)."""
    return generate_district(tmp_path_factory.mktemp("generated"), students=STUDENTS, seed=11,
                             profile="oneroster", oneroster_version="1.2", auth="oauth2",
                             district="reldist", as_of=AS_OF)


@pytest.fixture
def workspace(generated: GeneratedDistrict, tmp_path: Path) -> Workspace:
    """This test's private copy of the district."""
    return Workspace.copy_of(generated, tmp_path)
