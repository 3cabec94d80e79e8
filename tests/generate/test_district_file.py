"""The district file loads with the pipeline's own loader and says what the data assumes."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.config import load_district_file
from pipeline.profiles import OTUS_ASSESSMENT_TYPES
from tests.generate.helpers import AS_OF
from tooling.generate import GeneratedDistrict, generate_district
from tooling.generate.mapping import GENERATED_KEYS, TEMPLATE


def test_campus_file_loads(campus: GeneratedDistrict) -> None:
    config = load_district_file(campus.mapping_file)
    assert config.district == "demo" and config.sis.profile == "infinite_campus"
    assert config.sis.oneroster_version == "1.2" and config.sis.auth.kind == "oauth2"
    assert config.sis.auth.token_url == "http://127.0.0.1:8765/oauth/token"
    assert config.sis.auth.client_id_env == "PASSBACK_DEMO_CLIENT_ID"
    assert config.sis.vendor is not None
    assert config.passback.closed_grading_periods.listed == ["sy2026-q1"]
    assert campus.closed_grading_periods == ["sy2026-q1"]
    assert Path(config.export_location()) == campus.otus_dir.resolve()
    assert set(config.categories) == set(OTUS_ASSESSMENT_TYPES)
    assert [t for t, c in config.categories.items() if c is None] == ["Participation"]


def test_skyward_oauth1_file_loads(skyward: GeneratedDistrict) -> None:
    config = load_district_file(skyward.mapping_file)
    assert config.sis.profile == "skyward" and config.sis.oneroster_version == "1.1"
    assert config.sis.auth.kind == "oauth1"
    assert config.sis.auth.key_env == "PASSBACK_NORTH_VALLEY_KEY"
    assert config.sis.vendor is None


def test_no_secret_values_only_names(campus: GeneratedDistrict) -> None:
    document = yaml.safe_load(campus.mapping_file.read_text())
    auth = document["sis"]["auth"]
    assert all(key.endswith("_env") for key in auth if key not in ("kind", "token_url", "scopes"))


def test_first_quarter_open_before_its_end(tmp_path: Path) -> None:
    made = generate_district(tmp_path, students=30, as_of=AS_OF.replace(month=9, day=30))
    assert made.closed_grading_periods == []
    assert load_district_file(made.mapping_file).passback.closed_grading_periods.listed == []


def test_summer_as_of_belongs_to_the_year_just_ended(tmp_path: Path) -> None:
    made = generate_district(tmp_path, students=30, as_of=AS_OF.replace(year=2027, month=7))
    config = load_district_file(made.mapping_file)
    assert config.passback.effective_date.year == 2026
    assert made.closed_grading_periods == ["sy2026-q1"]


def _without(document: dict, dotted: tuple[str, ...]) -> dict:
    """`document` with the dotted keys removed (a deep copy)."""
    import copy

    document = copy.deepcopy(document)
    for path in dotted:
        *parents, last = path.split(".")
        node = document
        for part in parents:
            node = node[part]
        node.pop(last, None)
    return document


def test_the_demo_district_file_is_the_repo_one(campus: GeneratedDistrict) -> None:
    """One demo district file: what the generator writes for the demo is mappings/demo.yaml
    with only the generated facts replaced (URLs, dates, closed periods, export folder), so
    the two cannot disagree on name, zone, budget or categories."""
    repo_file = Path(__file__).resolve().parents[2] / "mappings" / "demo.yaml"
    assert TEMPLATE.resolve() == repo_file.resolve()
    repo = yaml.safe_load(repo_file.read_text())
    generated = yaml.safe_load(campus.mapping_file.read_text())
    assert _without(generated, GENERATED_KEYS) == _without(repo, GENERATED_KEYS)
    # For the demo's own profile the options chosen are the repo file's too.
    unchanged = ("district", "name", "sis.profile", "sis.oneroster_version", "sis.vendor",
                 "sis.budget.max_concurrency")
    for key in unchanged:
        assert _at(generated, key) == _at(repo, key), key
    assert generated["sis"]["auth"] | {"token_url": None} == \
        repo["sis"]["auth"] | {"token_url": None}
    assert generated["passback"]["closed_grading_periods"]["listed"] == ["sy2026-q1"]


def _at(document: dict, dotted: str) -> object:
    for part in dotted.split("."):
        document = document[part]
    return document


def test_the_default_as_of_is_today_in_the_districts_zone(tmp_path: Path) -> None:
    """One as-of date: `passback run` reads today in the district's zone, so the generator's
    default is that day too (not the machine's, which is UTC on a server)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    made = generate_district(tmp_path, students=20)
    zone = ZoneInfo(load_district_file(made.mapping_file).time_zone)
    assert made.as_of == datetime.now(zone).date()
