"""Names the sink tests share: a tiny one-school district for the sandbox, the rules layer's
output written straight into a tmp warehouse (`Gradebook`, columns as in pipeline/warehouse.py),
district configurations pointing at a sandbox, quick-retry clients, and readers of what a
sync left behind. Fixtures live in conftest.py; tests import names from here."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from assets.extract.sis import read_gradebook
from pipeline.config import DistrictConfig
from pipeline.graph import store_grading_period_keys
from pipeline.oneroster import OneRosterResource, OneRosterWriter, RetryPolicy
from pipeline.profiles import OTUS_ASSESSMENT_TYPES
from pipeline.sink import SyncReport, run_sync
from pipeline.warehouse import connect
from tooling.sandbox import SandboxSIS

DISTRICT = "testdist"
GP_FALL, GP_SPRING = "gp-fall", "gp-spring"
SCHOOL = "school-1"
CATEGORY = "cat-hw"
AS_OF = date(2026, 11, 2)
# Names of the environment variables the test districts read their secrets from.
ENV = {"key": "SINK_TEST_KEY", "secret": "SINK_TEST_SECRET", "client_id": "SINK_TEST_CLIENT",
       "client_secret": "SINK_TEST_CLIENT_SECRET", "vendor_key": "SINK_TEST_VENDOR_KEY",
       "vendor_secret": "SINK_TEST_VENDOR_SECRET"}


def roster_tables(students: int, classes: int) -> dict[str, list[dict[str, Any]]]:
    """A one-school district: a year term with a fall and a spring grading period."""
    return {
        "orgs": [{"sourcedId": "dist", "name": "District", "type": "district", "identifier": "D"},
                 {"sourcedId": SCHOOL, "name": "School", "type": "school", "identifier": "S",
                  "parentSourcedId": "dist"}],
        "academicSessions": [
            {"sourcedId": "term-y", "title": "Year", "type": "term", "startDate": "2026-08-01",
             "endDate": "2027-06-30", "schoolYear": "2027"},
            {"sourcedId": GP_FALL, "title": "Fall", "type": "gradingPeriod",
             "startDate": "2026-08-01", "endDate": "2026-12-31", "parentSourcedId": "term-y",
             "schoolYear": "2027"},
            {"sourcedId": GP_SPRING, "title": "Spring", "type": "gradingPeriod",
             "startDate": "2027-01-01", "endDate": "2027-06-30", "parentSourcedId": "term-y",
             "schoolYear": "2027"}],
        "courses": [{"sourcedId": "course-1", "title": "Course", "courseCode": "C",
                     "orgSourcedId": SCHOOL}],
        "classes": [{"sourcedId": f"class-{c}", "title": f"Class {c}",
                     "courseSourcedId": "course-1", "schoolSourcedId": SCHOOL,
                     "termSourcedIds": ["term-y"], "classType": "scheduled"}
                    for c in range(classes)],
        "users": [{"sourcedId": f"student-{s}", "enabledUser": "true", "orgSourcedIds": [SCHOOL],
                   "role": "student", "username": f"s{s}", "givenName": "Stu",
                   "familyName": f"Dent{s}"} for s in range(students)],
        "enrollments": [{"sourcedId": f"enr-{s}", "classSourcedId": f"class-{s % classes}",
                         "schoolSourcedId": SCHOOL, "userSourcedId": f"student-{s}",
                         "role": "student", "primary": "false"} for s in range(students)],
        "categories": [{"sourcedId": CATEGORY, "title": "Homework"}],
    }


@dataclass
class Gradebook:
    """The rules layer's output for one district, written straight into a tmp warehouse."""

    path: Path
    district: str = DISTRICT
    students: int = 6
    classes: int = 2
    line_items: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)

    def add_line_items(self, count: int, grading_period: str = GP_FALL,
                       title: str = "Homework") -> list[str]:
        """Add `count` line items (spread over the classes) with a score per enrolled student."""
        added = []
        due = date(2026, 10, 20) if grading_period == GP_FALL else date(2027, 2, 10)
        for _ in range(count):
            n = len(self.line_items)
            klass = f"class-{n % self.classes}"
            sourced_id = f"li-{n:04d}"
            self.line_items.append({
                "grading_period_sourced_id": grading_period, "sourced_id": sourced_id,
                "assignment_id": f"as-{n}", "assessment_id": f"am-{n}",
                "class_sourced_id": klass, "school_sourced_id": SCHOOL,
                "teacher_user_id": "t-1", "title": f"{title} {n}", "description": None,
                "assign_date": date(due.year, due.month, 1), "due_date": due,
                "category_sourced_id": CATEGORY, "result_value_min": 0.0,
                "result_value_max": 10.0})
            for s in range(n % self.classes, self.students, self.classes):
                self.results.append({
                    "grading_period_sourced_id": grading_period,
                    "sourced_id": f"res-{sourced_id}-{s}", "line_item_sourced_id": sourced_id,
                    "assignment_id": f"as-{n}", "class_sourced_id": klass,
                    "student_sourced_id": f"student-{s}", "score": float(s % 10),
                    "score_status": "fully graded", "score_date": due})
            added.append(sourced_id)
        return added

    def set_score(self, result_sourced_id: str, score: float) -> None:
        """Change one accepted score."""
        next(r for r in self.results if r["sourced_id"] == result_sourced_id)["score"] = score

    def line_item(self, sourced_id: str) -> dict[str, Any]:
        """One accepted line item row (mutable)."""
        return next(li for li in self.line_items if li["sourced_id"] == sourced_id)

    def drop_line_item(self, sourced_id: str) -> None:
        """The rules layer stopped accepting a line item (and so its scores)."""
        self.line_items = [li for li in self.line_items if li["sourced_id"] != sourced_id]
        self.results = [r for r in self.results if r["line_item_sourced_id"] != sourced_id]

    def save(self, close_window: tuple[str, ...] = ()) -> None:
        """Replace the district's rows in the warehouse (what a rules run does)."""
        now = datetime.now(UTC)
        common = {"district": self.district, "status": "active", "updated_at": now, "as_of": AS_OF,
                  "computed_at": now}
        sessions = pd.DataFrame([
            {"district": self.district, "sourced_id": gp, "status": "active",
             "type": "gradingPeriod", "title": gp, "start_date": start, "end_date": end,
             "grading_window_open": gp not in close_window}
            for gp, start, end in ((GP_FALL, date(2026, 8, 1), date(2026, 12, 31)),
                                   (GP_SPRING, date(2027, 1, 1), date(2027, 6, 30)))])
        line_items = pd.DataFrame([common | row for row in self.line_items])
        results = pd.DataFrame([common | {"missing_is_zero": False} | row
                                for row in self.results])
        with connect(self.path) as conn:
            for table, frame in (("passback.line_items", line_items),
                                 ("passback.results", results),
                                 ("sis.academic_sessions", sessions)):
                conn.execute(f"DELETE FROM {table} WHERE district = ?", [self.district])
                if len(frame):
                    conn.register("frame", frame)
                    conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM frame")
                    conn.unregister("frame")
            store_grading_period_keys(conn, self.district)  # as the sessions extract does


def district_config(sis: SandboxSIS | Any, *, version: str = "1.2", auth: str = "oauth2",
                    profile: str = "oneroster", concurrency: int = 5, rps: float = 1000.0,
                    district: str = DISTRICT, bulk_writes: str = "off",
                    bulk_max_records: int = 1000, **passback: Any) -> DistrictConfig:
    """A district whose SIS is the sandbox (anything with `url` and `token_url`); secrets are
    named by environment variable. One PUT per record unless `bulk_writes` says otherwise
    (the tests that count PUTs predate bulk writes; tests/sink/test_bulk.py turns them on)."""
    if auth == "oauth2":
        auth_block: dict[str, Any] = {"kind": "oauth2", "token_url": sis.token_url,
                                      "client_id_env": ENV["client_id"],
                                      "client_secret_env": ENV["client_secret"]}
    else:
        auth_block = {"kind": "oauth1", "key_env": ENV["key"], "secret_env": ENV["secret"]}
    sis_block: dict[str, Any] = {
        "profile": profile, "oneroster_version": version, "base_url": f"{sis.url}/ims/oneroster",
        "auth": auth_block, "budget": {"max_concurrency": concurrency,
                                       "max_requests_per_second": rps},
        "timeout_seconds": 5, "bulk_writes": bulk_writes, "bulk_max_records": bulk_max_records}
    if profile == "infinite_campus" and version == "1.2":
        sis_block["vendor"] = {"key_env": ENV["vendor_key"], "secret_env": ENV["vendor_secret"]}
    return DistrictConfig.model_validate({
        "district": district, "time_zone": "America/Chicago", "sis": sis_block,
        "passback": {"effective_date": "2026-08-01", **passback},
        "categories": dict.fromkeys(OTUS_ASSESSMENT_TYPES, CATEGORY),
        "otus": {"export": "/nonexistent"}})


QUICK_RETRIES = RetryPolicy(total=10, backoff_factor=0.01, backoff_max=0.05, backoff_jitter=0.0)


def quick_client(config: DistrictConfig) -> OneRosterWriter:
    """The sink's writer with short backoff, so fault tests stay fast."""
    return OneRosterWriter(config, QUICK_RETRIES)


def quick_resource_writer(config: DistrictConfig) -> OneRosterWriter:
    """The writer the Dagster resource hands out, with the same short backoff."""
    return OneRosterResource(max_retries=10, backoff_factor=0.01, backoff_max_seconds=0.05,
                             backoff_jitter=0.0).writer(config)



def connector(path: Path) -> Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]:
    """Short-lived connections to a test warehouse."""
    return lambda: connect(path)


def sync(gradebook: Gradebook, config: DistrictConfig, grading_period: str = GP_FALL,
         **options: Any) -> SyncReport:
    """One sync of a partition with a quick-retry client; the log goes to `options['log']`."""
    options.setdefault("log", lambda line: None)
    with quick_client(config) as client:
        return run_sync(config, grading_period, client=client,
                        connect=connector(gradebook.path), as_of=AS_OF,
                        lock_dir=gradebook.path.parent / "locks", **options)


def read_sis_gradebook(gradebook: Gradebook, config: DistrictConfig, *,
                       full: bool = False) -> dict[str, int]:
    """Read the SIS's line items and results into the test warehouse as the extract assets
    do (changes since the cursor, or everything); returns the records fetched per entity."""
    read = read_gradebook(config, full, connector(gradebook.path),
                          lambda: OneRosterResource().reader(config))
    return {entity: result.metadata["fetched"].value for entity, result in read.items()}


def drift_rows(path: Path) -> list[dict[str, Any]]:
    """passback.sync_drift, oldest first."""
    with connect(path) as conn:
        cursor = conn.execute("SELECT * FROM passback.sync_drift ORDER BY first_seen_at, "
                              "sourced_id, field")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def writes(sis: SandboxSIS, start: int = 0) -> list[tuple[str, str, int]]:
    """(method, path, status) of every gradebook PUT and DELETE the sandbox saw since
    `start`."""
    return [(m, p, s) for m, p, s in sis.request_log[start:] if m in ("PUT", "DELETE")]


def posts(sis: SandboxSIS, start: int = 0) -> list[tuple[str, str, int]]:
    """(method, path, status) of every bulk POST the sandbox saw since `start`."""
    return [(m, p, s) for m, p, s in sis.request_log[start:] if m == "POST"
            and not p.endswith("/oauth/token")]


def ledger(path: Path) -> dict[str, tuple[str, int | None, str | None]]:
    """sourced_id -> (state, http_status, last_error) from the sync ledger."""
    with connect(path) as conn:
        rows = conn.execute("SELECT sourced_id, state, http_status, last_error "
                            "FROM passback.sync_ledger").fetchall()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def mappings_for(folder: Path, config: DistrictConfig) -> Path:
    """A mappings folder holding the district file of `config` (for the `passback` commands)."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{config.district}.yaml").write_text(
        yaml.safe_dump(config.model_dump(mode="json", exclude_unset=True)))
    return folder


def events(path: Path, run_id: str | None = None) -> list[dict[str, Any]]:
    """Rows of passback.sync_events (of one run when named), oldest first."""
    with connect(path) as conn:
        cursor = conn.execute("SELECT * FROM passback.sync_events WHERE run_id = coalesce(?, "
                              "run_id) ORDER BY requested_at, seq", [run_id])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def ledgered_sent(path: Path) -> int:
    """Ledger rows in state `sent` that a sync (killed or running in another process) has
    committed, or -1 while that process holds the file."""
    try:
        with duckdb.connect(str(path), read_only=True) as conn:
            row = conn.execute("SELECT count(*) FROM passback.sync_ledger "
                               "WHERE state = 'sent'").fetchone()
            return int(row[0]) if row else 0
    except duckdb.Error:
        return -1
