"""The district's report settings: off by default, booleans only, unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.config import ConfigError, load_district_file

DEMO = Path(__file__).resolve().parents[2] / "mappings" / "demo.yaml"


def _load(tmp_path: Path, report: object) -> object:
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["report"] = report
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_district_file(path)


def test_names_and_teacher_files_are_off_unless_turned_on(tmp_path: Path) -> None:
    default = load_district_file(DEMO).report
    assert (default.per_teacher, default.student_names) == (False, False)
    on = _load(tmp_path, {"per_teacher": True, "student_names": True}).report  # type: ignore[attr-defined]
    assert (on.per_teacher, on.student_names) == (True, True)


@pytest.mark.parametrize(("report", "said"), [
    ({"student_names": "yes"}, "report.student_names: Input should be a valid boolean"),
    ({"per_teacher": 1}, "report.per_teacher: Input should be a valid boolean"),
    ({"student_name": True}, "report.student_name"),
])
def test_a_bad_report_setting_is_refused_naming_the_key(tmp_path: Path, report: object,
                                                        said: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, report)
    assert any(said in problem for problem in error.value.problems), error.value.problems
