"""`generate_district`: one synthetic district, its Otus export, its SIS roster, its file."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from pipeline.config import DISTRICT_ID
from pipeline.profiles import PROFILES
from tooling.generate import gradebook, otus_files, planted, roster, scores
from tooling.generate.calendar import SchoolCalendar, build_calendar
from tooling.generate.mapping import (
    CATEGORY_MAP,
    TIME_ZONE,
    district_document,
    district_name,
    write_district_file,
)
from tooling.generate.oneroster_files import CATEGORIES, build_course_table, write_oneroster
from tooling.generate.plants import DENSE_PLANTED_SHARE, planted_scale

DEFAULT_BASE_URL = "http://127.0.0.1:8765/ims/oneroster"
FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class GeneratedDistrict:
    """What `generate_district` wrote, and where."""

    district: str
    out: Path
    otus_dir: Path
    oneroster_dir: Path
    mapping_file: Path
    planted: Path
    closed_grading_periods: list[str]
    effective_date: date
    as_of: date
    counts: dict[str, int] = field(default_factory=dict)


def _check(students: int, profile: str, district: str, version: str, auth: str, fmt: str) -> None:
    problems = []
    if students < 1:
        problems.append(f"students must be at least 1, got {students}")
    if profile not in PROFILES:
        problems.append(f"profile {profile!r} is not one of {sorted(PROFILES)}")
    if not DISTRICT_ID.match(district):
        problems.append(f"district {district!r} must be lower-case letters, digits, '-' or '_'")
    if version not in ("1.1", "1.2"):
        problems.append(f"oneroster_version {version!r} must be '1.1' or '1.2'")
    if auth not in ("oauth1", "oauth2"):
        problems.append(f"auth {auth!r} must be 'oauth1' or 'oauth2'")
    if fmt not in FORMATS:
        problems.append(f"fmt {fmt!r} must be one of {FORMATS}")
    if problems:
        raise ValueError("; ".join(problems))


def _build_tables(con: duckdb.DuckDBPyConnection, cal: SchoolCalendar, *, students: int,
                  seed: int, district: str, planted_share: float) -> None:
    """Every internal table and view, from roster to scores and the planted list."""
    roster.install_macros(con, seed, planted_scale(planted_share))
    roster.build_roster(con, students)
    otus_files.build_otus_users(con, district, TIME_ZONE, cal.effective_date)
    mapped = ", ".join(
        f"('{t}', {repr(c) if c else 'NULL'})" for t, c in CATEGORY_MAP.items())
    inactive = ", ".join(f"'{sid}'" for sid, _, status in CATEGORIES if status != "active")
    con.execute(f"""CREATE TABLE type_category AS
        SELECT assessment_type, category, category NOT IN ({inactive}) AS active
        FROM (VALUES {mapped}) AS t(assessment_type, category) WHERE category IS NOT NULL""")
    gradebook.build_grading_periods(con, cal)
    gradebook.build_assessment_design(con, cal)
    gradebook.build_assessments(con, cal)
    gradebook.build_class_assignments(con, cal, TIME_ZONE)
    scores.build_score_view(con, cal)
    otus_files.build_output_views(con, TIME_ZONE)
    build_course_table(con)


def generate_district(
    out: Path,
    *,
    students: int = 1000,
    seed: int = 7,
    profile: str = "infinite_campus",
    district: str = "demo",
    oneroster_version: str | None = None,
    auth: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    as_of: date | None = None,
    fmt: str = "csv",
    planted_share: float = DENSE_PLANTED_SHARE,
) -> GeneratedDistrict:
    """Generate one district under `out`: otus/, oneroster/, mappings/<district>.yaml and
    planted.<fmt>. Same arguments, same bytes; `out`'s generated folders are replaced.

    `planted_share` is the share of open assessments that break a rule (other planted records
    scale alike; each case is planted at least once whatever the share). The default is the
    dense district the tests and benchmarks are written against; the commands default to
    REALISTIC_PLANTED_SHARE."""
    version = oneroster_version or ("1.2" if profile == "infinite_campus" else "1.1")
    auth = auth or "oauth2"
    _check(students, profile, district, version, auth, fmt)
    planted_scale(planted_share)  # refuses a share out of range before anything is written
    # Today where the district is, as `passback run` reads it: one as-of date everywhere.
    cal = build_calendar(as_of or datetime.now(ZoneInfo(TIME_ZONE)).date())
    out = Path(out)
    otus_dir, oneroster_dir = out / "otus", out / "oneroster"
    for folder in (otus_dir, oneroster_dir):
        shutil.rmtree(folder, ignore_errors=True)  # a stale file would break "one per entity"
    name = district_name(district)
    with tempfile.TemporaryDirectory(prefix="passback-generate-") as spill:
        con = duckdb.connect(config={"temp_directory": spill, "preserve_insertion_order": True})
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")
            _build_tables(con, cal, students=students, seed=seed, district=district,
                          planted_share=planted_share)
            counts = otus_files.write_otus(con, otus_dir, fmt)
            counts.update({f"oneroster.{k}": v for k, v in
                           write_oneroster(con, oneroster_dir, cal, district, name).items()})
            planted.build_planted(con, cal, profile)
            planted_path = out / f"planted.{'parquet' if fmt == 'parquet' else 'csv'}"
            counts["planted"] = planted.write_planted(con, planted_path, fmt)
        finally:
            con.close()
    document = district_document(district=district, profile=profile, version=version, auth=auth,
                                 base_url=base_url, cal=cal)
    mapping_file = write_district_file(out / "mappings" / f"{district}.yaml", document)
    return GeneratedDistrict(
        district=district, out=out, otus_dir=otus_dir, oneroster_dir=oneroster_dir,
        mapping_file=mapping_file, planted=planted_path, closed_grading_periods=list(cal.closed),
        effective_date=cal.effective_date, as_of=cal.as_of, counts=counts)
