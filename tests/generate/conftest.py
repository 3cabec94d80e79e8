"""Generated districts shared by the generator tests: built once per session, small and fast."""

from __future__ import annotations

import pytest

from tests.generate.helpers import AS_OF, STUDENTS
from tooling.generate import GeneratedDistrict, generate_district
from tooling.generate.plants import REALISTIC_PLANTED_SHARE


@pytest.fixture(scope="session")
def campus(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDistrict:
    """An Infinite Campus district (OneRoster 1.2, OAuth 2) of 200 students."""
    return generate_district(tmp_path_factory.mktemp("campus"), students=STUDENTS, as_of=AS_OF)


@pytest.fixture(scope="session")
def skyward(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDistrict:
    """A Skyward district (OneRoster 1.1, OAuth 1) of 200 students."""
    return generate_district(tmp_path_factory.mktemp("skyward"), students=STUDENTS, as_of=AS_OF,
                             profile="skyward", district="north-valley", auth="oauth1", seed=11)


@pytest.fixture(scope="session")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDistrict:
    """The campus district at the commands' default density (a real district's)."""
    return generate_district(tmp_path_factory.mktemp("realistic"), students=STUDENTS,
                             as_of=AS_OF, planted_share=REALISTIC_PLANTED_SHARE)
