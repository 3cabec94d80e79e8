"""District configuration: valid files load; each mistake gives one clear message."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config import ConfigError, load_district_file, load_districts, secret
from pipeline.profiles import OTUS_ASSESSMENT_TYPES

REPO = Path(__file__).resolve().parents[1]
DEMO = yaml.safe_load((REPO / "mappings" / "demo.yaml").read_text())


def write(tmp_path: Path, data: dict[str, Any], name: str = "demo") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def problems(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_district_file(write(tmp_path, data))
    return caught.value.problems


def test_committed_mappings_load() -> None:
    districts = load_districts(REPO / "mappings")
    demo = districts["demo"]
    assert demo.sis.gradebook_base.endswith("/ims/oneroster/gradebook/v1p2")
    assert demo.sis.rostering_base.endswith("/ims/oneroster/rostering/v1p2")
    assert demo.export_location() == str((REPO / ".passback" / "demo" / "otus").resolve())
    assert set(demo.categories) == set(OTUS_ASSESSMENT_TYPES)


def test_version_1_1_uses_one_base() -> None:
    data = copy.deepcopy(DEMO)
    data["sis"]["oneroster_version"] = "1.1"
    data["sis"].pop("vendor")
    data["sis"]["auth"]["scopes"] = [s.replace("/v1p2/", "/v1p1/")
                                     for s in data["sis"]["auth"]["scopes"]]
    from pipeline.config import DistrictConfig

    config = DistrictConfig.model_validate(data)
    assert config.sis.rostering_base == config.sis.gradebook_base == (
        "http://127.0.0.1:8765/ims/oneroster/v1p1"
    )


def test_missing_key_names_file_and_key(tmp_path: Path) -> None:
    data = copy.deepcopy(DEMO)
    del data["passback"]["effective_date"]
    [message] = problems(tmp_path, data)
    assert "demo.yaml: passback.effective_date: is required but missing" in message


def test_bad_enum_lists_what_is_allowed(tmp_path: Path) -> None:
    data = copy.deepcopy(DEMO)
    data["sis"]["profile"] = "powerschool"
    [message] = problems(tmp_path, data)
    assert "sis.profile" in message and "'powerschool'" in message
    assert "infinite_campus" in message and "skyward" in message and "oneroster" in message


def test_bad_auth_kind(tmp_path: Path) -> None:
    data = copy.deepcopy(DEMO)
    data["sis"]["auth"]["kind"] = "oauth3"
    [message] = problems(tmp_path, data)
    assert "sis.auth" in message and "oauth1" in message and "oauth2" in message


def test_unknown_assessment_type_and_missing_one(tmp_path: Path) -> None:
    data = copy.deepcopy(DEMO)
    data["categories"]["Quizz"] = data["categories"].pop("Quiz")
    [message] = problems(tmp_path, data)
    assert "categories" in message
    assert "unknown Otus assessment type(s) ['Quizz']" in message
    assert "no entry for Otus assessment type(s) ['Quiz']" in message


def test_inline_secret_is_refused_without_echoing_it(tmp_path: Path) -> None:
    data = copy.deepcopy(DEMO)
    data["sis"]["auth"]["client_secret"] = "hunter2-very-secret"
    [message] = problems(tmp_path, data)
    assert "sis.auth" in message and "client_secret_env" in message
    assert "hunter2" not in message


def test_secret_value_in_env_field_is_refused_without_echoing_it(tmp_path: Path) -> None:
    data = copy.deepcopy(DEMO)
    data["sis"]["auth"]["client_secret_env"] = "s3cr3t!value/with+symbols"
    [message] = problems(tmp_path, data)
    assert "sis.auth.client_secret_env" in message and "NAME of an environment variable" in message
    assert "s3cr3t" not in message


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    data = copy.deepcopy(DEMO)
    data["time_zone"] = "Mars/Olympus"
    data["sis"]["budget"]["max_concurrency"] = 0
    data["passback"]["propagate_deletion"] = True
    found = problems(tmp_path, data)
    assert len(found) == 3, found
    joined = "\n".join(found)
    assert "time_zone: is not an IANA time zone" in joined
    assert "sis.budget.max_concurrency" in joined
    assert "passback.propagate_deletion: is not a known key" in joined


def test_infinite_campus_concurrency_cap(tmp_path: Path) -> None:
    data = copy.deepcopy(DEMO)
    data["sis"]["budget"]["max_concurrency"] = 8
    [message] = problems(tmp_path, data)
    assert "above what Infinite Campus allows (5)" in message


def test_plain_http_only_to_loopback(tmp_path: Path) -> None:
    data = copy.deepcopy(DEMO)
    data["sis"]["base_url"] = "http://sis.example.org/ims/oneroster"
    [message] = problems(tmp_path, data)
    assert "sis.base_url" in message and "use https" in message
    data["sis"]["base_url"] = "https://sis.example.org/ims/oneroster"
    assert load_district_file(write(tmp_path, data)).sis.base_url.startswith("https://")


def test_district_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must match the file name 'other'"):
        load_district_file(write(tmp_path, DEMO, name="other"))


def test_problems_from_several_files_are_collected(tmp_path: Path) -> None:
    bad = copy.deepcopy(DEMO)
    bad["district"] = "broken"
    bad["sis"]["oneroster_version"] = "2.0"
    write(tmp_path, DEMO)
    write(tmp_path, bad, name="broken")
    with pytest.raises(ConfigError) as caught:
        load_districts(tmp_path)
    assert len(caught.value.problems) == 1
    assert "broken.yaml: sis.oneroster_version" in caught.value.problems[0]


def test_secret_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSBACK_TEST_SECRET", "value")
    assert secret("PASSBACK_TEST_SECRET", purpose="test") == "value"
    monkeypatch.delenv("PASSBACK_TEST_SECRET")
    with pytest.raises(ConfigError, match="PASSBACK_TEST_SECRET \\(test\\) is not set"):
        secret("PASSBACK_TEST_SECRET", purpose="test")


def test_the_nightly_run_follows_the_sis_roster_refresh_unless_the_district_says(
        tmp_path: Path) -> None:
    from pipeline.config import DistrictConfig
    from pipeline.orchestration import nightly_schedules

    campus = DistrictConfig.model_validate(DEMO)  # Infinite Campus: its cache is rebuilt at 4:10
    other = copy.deepcopy(DEMO) | {"district": "other"}
    other["sis"] = {key: value for key, value in DEMO["sis"].items() if key != "vendor"} | {
        "profile": "oneroster"}
    own = copy.deepcopy(DEMO) | {"district": "own", "schedule": {"nightly_time": "03:45"}}
    configs = {"demo": campus, "other": DistrictConfig.model_validate(other),
               "own": DistrictConfig.model_validate(own)}

    crons = {s.name: s.cron_schedule for s in nightly_schedules(configs)}

    assert crons == {"nightly_demo": "0 5 * * *", "nightly_other": "0 2 * * *",
                     "nightly_own": "45 3 * * *"}
    assert "05:00 America/Chicago" in nightly_schedules({"demo": campus})[0].description
    assert any("24-hour local time" in p for p in problems(
        tmp_path, copy.deepcopy(DEMO) | {"schedule": {"nightly_time": "5am"}}))


def test_oauth2_scopes_match_the_version_and_deletions_need_their_scope(
        tmp_path: Path) -> None:
    old = copy.deepcopy(DEMO)
    old["sis"]["oneroster_version"] = "1.1"
    old["sis"].pop("vendor")
    assert any("are not OneRoster 1.1 scopes" in p for p in problems(tmp_path, old))

    deleting = copy.deepcopy(DEMO)
    deleting["passback"]["propagate_deletions"] = True
    assert any("lacks gradebook.delete" in p for p in problems(tmp_path, deleting))
    deleting["sis"]["auth"]["scopes"].append(
        "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.delete")
    load_district_file(write(tmp_path, deleting))  # no error
