"""A generated district in a private folder, the pipeline run as a child process against it,
and the end-to-end comparison of what the SIS holds with what the warehouse says it should.

Every pipeline run is a child process (`tests.reliability.run_child`): the code location reads
the mappings folder and the warehouse path when it is imported, a run must be killable with
SIGKILL, and its stdout/stderr must be captured whole for the secrets test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from pipeline.warehouse import connect
from tooling.generate import GeneratedDistrict
from tooling.sandbox import SandboxCredentials

REPO = Path(__file__).resolve().parents[2]
# The district the fixtures generate: its as-of date, and its size (small on purpose: a few
# hundred SIS writes per run keep each fault run to seconds on 2 cores).
AS_OF = date(2026, 11, 2)
STUDENTS = 10

REPORT_DIR = REPO / ".passback" / "reliability"
# District file key -> SandboxCredentials attribute holding the value the sandbox accepts.
_SECRET_KEYS = {("auth", "client_id_env"): "client_id",
                ("auth", "client_secret_env"): "client_secret",
                ("auth", "key_env"): "oauth1_key", ("auth", "secret_env"): "oauth1_secret",
                ("vendor", "key_env"): "vendor_key", ("vendor", "secret_env"): "vendor_secret"}


@dataclass
class Workspace:
    """One test's copy of a generated district: mappings, warehouse, reports, Dagster home."""

    root: Path
    generated: GeneratedDistrict
    credentials: SandboxCredentials = field(default_factory=SandboxCredentials)
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def copy_of(cls, generated: GeneratedDistrict, root: Path, **options: Any) -> Workspace:
        """A private copy of `generated` under `root` (the Otus export may then be edited)."""
        shutil.copytree(generated.out, root / "district")
        out = root / "district"
        moved = GeneratedDistrict(
            district=generated.district, out=out, otus_dir=out / "otus",
            oneroster_dir=out / "oneroster",
            mapping_file=out / "mappings" / generated.mapping_file.name,
            planted=out / generated.planted.name,
            closed_grading_periods=generated.closed_grading_periods,
            effective_date=generated.effective_date, as_of=generated.as_of,
            counts=generated.counts)
        return cls(root, moved, **options)

    @property
    def district(self) -> str:
        """The district id."""
        return self.generated.district

    @property
    def warehouse(self) -> Path:
        """The DuckDB file (in a folder the pipeline creates)."""
        return self.root / "state" / "warehouse.duckdb"

    @property
    def reports(self) -> Path:
        """Where the quality reports go."""
        return self.root / "state" / "reports"

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance folder of this workspace."""
        return self.root / "dagster_home"

    def mapping(self) -> dict[str, Any]:
        """The district file as data."""
        return yaml.safe_load(self.generated.mapping_file.read_text())

    def point_at(self, url: str, *, timeout_seconds: float = 5.0, rps: float = 500.0,
                 **sis: Any) -> None:
        """Aim the district file at a sandbox at `url` with a test-sized budget and timeout."""
        data = self.mapping()
        data["sis"]["base_url"] = f"{url}/ims/oneroster"
        if data["sis"]["auth"]["kind"] == "oauth2":
            data["sis"]["auth"]["token_url"] = f"{url}/oauth/token"
        data["sis"]["budget"]["max_requests_per_second"] = rps
        data["sis"]["timeout_seconds"] = timeout_seconds
        data["sis"].update(sis)
        self.generated.mapping_file.write_text(yaml.safe_dump(data, sort_keys=False))

    def secret_env(self) -> dict[str, str]:
        """Each secret variable the district file names, set to the sandbox's value."""
        sis = self.mapping()["sis"]
        env = {}
        for (block, key), attribute in _SECRET_KEYS.items():
            name = (sis.get(block) or {}).get(key)
            if name:
                env[name] = getattr(self.credentials, attribute)
        return env

    def env(self) -> dict[str, str]:
        """The child's environment: this workspace's paths and the district's secrets."""
        return {**os.environ, "PASSBACK_MAPPINGS_DIR": str(self.generated.mapping_file.parent),
                "PASSBACK_WAREHOUSE": str(self.warehouse),
                "PASSBACK_REPORTS_DIR": str(self.reports),
                "DAGSTER_HOME": str(self.dagster_home), "NO_COLOR": "1",
                **self.secret_env(), **self.extra_env}

    def start(self, *, dry_run: bool = False) -> subprocess.Popen[str]:
        """Start `run_district` in a child process (stdout and stderr captured as text)."""
        command = [sys.executable, "-m", "tests.reliability.run_child", self.district,
                   self.generated.as_of.isoformat(), *(["--dry-run"] if dry_run else [])]
        return subprocess.Popen(command, cwd=REPO, env=self.env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def run(self, *, timeout: float = 150.0, dry_run: bool = False) -> Finished:
        """Run the pipeline to the end in a child process."""
        child = self.start(dry_run=dry_run)
        stdout, stderr = child.communicate(timeout=timeout)
        return Finished(child.returncode, stdout, stderr)


@dataclass(frozen=True)
class Finished:
    """A finished child run."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Both streams, for assertion messages."""
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"

    def tail(self, lines: int = 40) -> str:
        """The end of the output (assertion messages stay readable)."""
        return "\n".join(self.output.splitlines()[-lines:])


def expected_objects(warehouse: Path, district: str) -> tuple[dict[str, dict], dict[str, dict]]:
    """The line items and results the warehouse says the SIS must hold (SIS refusals aside)."""
    with connect(warehouse, read_only=True) as conn:
        refused = {row[0] for row in conn.execute(
            "SELECT sourced_id FROM passback.sync_ledger WHERE district = ? AND "
            "state = 'rejected'", [district]).fetchall()}
        tables = []
        for table in ("line_items", "results"):
            cursor = conn.execute(f"SELECT * FROM passback.{table} WHERE district = ?",
                                  [district])
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            tables.append({r["sourced_id"]: r for r in rows if r["sourced_id"] not in refused})
    return tables[0], tables[1]


def ledger_states(warehouse: Path, district: str) -> dict[str, int]:
    """How many ledger rows are in each state."""
    with connect(warehouse, read_only=True) as conn:
        rows = conn.execute("SELECT state, count(*) FROM passback.sync_ledger WHERE district = ? "
                            "GROUP BY state", [district]).fetchall()
    return {state: int(count) for state, count in rows}


def compare_sis(line_items: list[dict], results: list[dict], baseline: set[str],
                warehouse: Path, district: str) -> list[str]:
    """Every difference between the SIS (minus objects it held before) and the warehouse.

    Missing: in the warehouse, not in the SIS. Extra (twice): in the SIS under a sourcedId the
    warehouse does not know, or two results for one student and line item. Stale: held with a
    value other than the warehouse's.
    """
    want_items, want_results = expected_objects(warehouse, district)
    have_items = {li["sourcedId"]: li for li in line_items if li["sourcedId"] not in baseline}
    have_results = {r["sourcedId"]: r for r in results if r["sourcedId"] not in baseline}
    problems = []
    for kind, want, have in (("line item", want_items, have_items),
                             ("result", want_results, have_results)):
        if missing := sorted(set(want) - set(have)):
            problems.append(f"{len(missing)} {kind}(s) missing from the SIS, e.g. {missing[:3]}")
        if extra := sorted(set(have) - set(want)):
            problems.append(f"{len(extra)} unexpected {kind}(s) in the SIS, e.g. {extra[:3]}")
    pairs = [(r["lineItem"], r["student"]) for r in have_results.values()]
    if len(pairs) != len(set(pairs)):
        problems.append("two SIS results for one student and line item")
    for sid, row in want_items.items():
        held = have_items.get(sid)
        if held and (held["title"], held["class"], float(held["resultValueMax"])) != \
                (row["title"], row["class_sourced_id"], float(row["result_value_max"])):
            problems.append(f"stale line item {sid}: SIS {held['title']!r}/"
                            f"{held['resultValueMax']}, warehouse {row['title']!r}/"
                            f"{row['result_value_max']}")
    for sid, row in want_results.items():
        held = have_results.get(sid)
        if held and (float(held["score"]), held["lineItem"], held["student"]) != \
                (float(row["score"]), row["line_item_sourced_id"], row["student_sourced_id"]):
            problems.append(f"stale result {sid}: SIS {held['score']}, warehouse {row['score']}")
    return problems[:20]


def write_report(name: str, lines: list[str]) -> Path:
    """Print a test's injected/verified summary and keep it in .passback/reliability/."""
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    path = REPORT_DIR / f"{name}.md"
    text = "\n".join([f"# {name}", *lines]) + "\n"
    path.write_text(text)
    print(text)
    return path


def status_counts(request_log: list[list]) -> dict[int, int]:
    """How many requests the sandbox answered with each status (0 = connection dropped)."""
    counts: dict[int, int] = {}
    for _method, _path, status in request_log:
        counts[int(status)] = counts.get(int(status), 0) + 1
    return dict(sorted(counts.items()))


def district_file_at(mappings: Path, generated: GeneratedDistrict, district: str, url: str,
                     *, secrets: tuple[str, str]) -> Path:
    """The generated district file, renamed `district` and aimed at a SIS at `url` (OAuth 2,
    secrets read from the two variables named, 2 s per read), written into `mappings`."""
    data = yaml.safe_load(generated.mapping_file.read_text())
    data["district"] = district
    data["sis"]["base_url"] = f"{url}/ims/oneroster"
    data["sis"]["timeout_seconds"] = 2
    data["sis"]["auth"] = {"kind": "oauth2", "token_url": f"{url}/oauth/token",
                           "client_id_env": secrets[0], "client_secret_env": secrets[1]}
    mappings.mkdir(parents=True, exist_ok=True)
    (mappings / f"{district}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return mappings
