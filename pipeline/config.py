"""District configuration: one YAML file per district in `mappings/`, loaded into typed models.

Every problem in a file is reported at once, one line each, naming the file, the key, what is
wrong and what is allowed. Secrets never appear in a file: only the names of the environment
variables that hold them.
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.profiles import OTUS_ASSESSMENT_TYPES, PROFILES, ProfileName

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DISTRICT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Keys that would hold a secret's value: refused with a pointer to the *_env form.
INLINE_SECRET_KEYS = {
    "key": "key_env",
    "secret": "secret_env",
    "client_id": "client_id_env",
    "client_secret": "client_secret_env",
    "consumer_key": "key_env",
    "consumer_secret": "secret_env",
    "password": "secret_env",
    "token": "secret_env",
    "vendor_key": "key_env",
    "vendor_secret": "secret_env",
}


def project_root() -> Path:
    """The folder the defaults live in: `PASSBACK_HOME`, else the working directory (an
    installed package has no checkout to point at; `make` targets run from the repo root)."""
    return Path(os.environ.get("PASSBACK_HOME") or Path.cwd())


def mappings_dir() -> Path:
    """The folder districts are read from (`PASSBACK_MAPPINGS_DIR` overrides `mappings/`)."""
    return Path(os.environ.get("PASSBACK_MAPPINGS_DIR") or project_root() / "mappings")


def warehouse_path() -> Path:
    """The DuckDB file (`PASSBACK_WAREHOUSE` overrides the git-ignored default)."""
    default = project_root() / ".passback" / "warehouse.duckdb"
    return Path(os.environ.get("PASSBACK_WAREHOUSE") or default)


class ConfigError(ValueError):
    """One or more problems in district files; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid district configuration:\n  " + "\n  ".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_name(value: str) -> str:
    if not ENV_NAME.match(value):
        # Never echo the value: it may be a secret pasted where a variable name belongs.
        raise ValueError(
            "must be the NAME of an environment variable (letters, digits, underscore), "
            "not a secret value"
        )
    return value


EnvName = Annotated[str, Field(min_length=1)]


class _SecretsByName(_Strict):
    """Refuses inline secrets with a message that says what to write instead."""

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, instead in INLINE_SECRET_KEYS.items():
                if key in data:
                    raise ValueError(
                        f"`{key}` holds a secret inline, which is not allowed; put it in an "
                        f"environment variable and give that variable's name as `{instead}`"
                    )
        return data

    @field_validator("*", mode="after")
    @classmethod
    def _env_names(cls, value: Any, info: Any) -> Any:
        if info.field_name.endswith("_env"):
            return _env_name(value)
        return value


class OAuth1Auth(_SecretsByName):
    """OAuth 1.0a two-legged signing (Infinite Campus 1.1 key and secret)."""

    kind: Literal["oauth1"]
    signature_method: Literal["HMAC-SHA256", "HMAC-SHA1"] = "HMAC-SHA256"
    key_env: EnvName
    secret_env: EnvName


class OAuth2Auth(_SecretsByName):
    """OAuth 2 client credentials with a token URL and scopes."""

    kind: Literal["oauth2"]
    token_url: str
    client_id_env: EnvName
    client_secret_env: EnvName
    scopes: list[str] = Field(default_factory=list)

    @field_validator("token_url")
    @classmethod
    def _token_url(cls, value: str) -> str:
        return _check_url(value)


class VendorAuth(_SecretsByName):
    """Infinite Campus vendor key and secret for 1.2 gradebook calls."""

    key_env: EnvName
    secret_env: EnvName


class Budget(_Strict):
    """How hard the pipeline may press the SIS."""

    max_concurrency: int = Field(default=5, ge=1, le=64)
    max_requests_per_second: float = Field(default=20.0, gt=0, le=10_000)


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            "plain http is only allowed to a loopback host (127.0.0.1, localhost, ::1); use https"
        )
    return value.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SISConfig(_Strict):
    """Where the SIS is and how to talk to it."""

    profile: ProfileName
    oneroster_version: Literal["1.1", "1.2"]
    # The root the OneRoster services hang from, ending in `/ims/oneroster`; the client adds
    # `/v1p1` (1.1) or `/rostering/v1p2` and `/gradebook/v1p2` (1.2).
    base_url: str
    rostering_url: str | None = None
    gradebook_url: str | None = None
    auth: Annotated[OAuth1Auth | OAuth2Auth, Field(discriminator="kind")]
    vendor: VendorAuth | None = None
    budget: Budget = Field(default_factory=Budget)
    credential_expires_on: date | None = None
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # OneRoster 1.2 bulk POSTs for creates (pipeline/sink/bulk.py): `auto` tries them and
    # falls back to PUT (remembered) where the SIS lacks them; `on` / `off` force either way.
    bulk_writes: Literal["auto", "on", "off"] = "auto"
    # Each bulk body holds at most this many records and this many bytes (split above).
    bulk_max_records: int = Field(default=1000, ge=1, le=100_000)
    bulk_max_bytes: int = Field(default=4_000_000, ge=10_000, le=100_000_000)

    @field_validator("base_url", "rostering_url", "gradebook_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)

    @model_validator(mode="after")
    def _profile_limits(self) -> SISConfig:
        profile = PROFILES[self.profile]
        if self.budget.max_concurrency > profile.max_concurrency:
            raise ValueError(
                f"budget.max_concurrency {self.budget.max_concurrency} is above what "
                f"{profile.label} allows ({profile.max_concurrency})"
            )
        if (
            profile.vendor_header_on_v1p2_gradebook
            and self.oneroster_version == "1.2"
            and self.vendor is None
        ):
            raise ValueError(
                f"{profile.label} OneRoster 1.2 needs `vendor` (key_env and secret_env) for "
                "gradebook calls"
            )
        if self.bulk_writes == "on" and self.oneroster_version != "1.2":
            raise ValueError(
                "bulk_writes: on needs oneroster_version \"1.2\" (OneRoster 1.1 has no bulk "
                "POSTs); use auto or off")
        if isinstance(self.auth, OAuth2Auth):
            mine = self.scope_version
            other = [s for s in self.auth.scopes if "/spec/or/v1p" in s and f"/{mine}/" not in s]
            if other:
                raise ValueError(
                    f"auth.scopes {other} are not OneRoster {self.oneroster_version} scopes "
                    f"(theirs name /spec/or/{mine}/scope/...); a SIS refuses them")
        return self

    @property
    def scope_version(self) -> str:
        """The version segment of this OneRoster version's OAuth 2 scopes (`v1p1`, `v1p2`)."""
        return "v1p1" if self.oneroster_version == "1.1" else "v1p2"

    @property
    def rostering_base(self) -> str:
        """Base URL of the rostering service for this version."""
        if self.rostering_url:
            return self.rostering_url
        suffix = "/v1p1" if self.oneroster_version == "1.1" else "/rostering/v1p2"
        return self.base_url + suffix

    @property
    def gradebook_base(self) -> str:
        """Base URL of the gradebook service for this version."""
        if self.gradebook_url:
            return self.gradebook_url
        suffix = "/v1p1" if self.oneroster_version == "1.1" else "/gradebook/v1p2"
        return self.base_url + suffix


class ClosedGradingPeriods(_Strict):
    """Which grading periods are closed: listed, reported by the SIS, and/or by a policy."""

    listed: list[str] = Field(default_factory=list)
    use_sis_grading_window: bool = True
    # Policy: a grading period counts as closed this many days after its end date.
    close_days_after_end: int | None = Field(default=None, ge=0)


class PassbackSettings(_Strict):
    """What the district decided about passback."""

    effective_date: date
    closed_grading_periods: ClosedGradingPeriods = Field(default_factory=ClosedGradingPeriods)
    propagate_deletions: bool = False
    dry_run: bool = False
    # A record whose values in the SIS differ from what Passback last wrote (a teacher's edit
    # in the SIS): `overwrite` sends Passback's again (Infinite Campus documents the partner as
    # the source of truth), `keep` leaves the SIS's. Every difference is recorded either way.
    sis_edits: Literal["overwrite", "keep"] = "overwrite"
    # Days of passback.sync_events and kept plans; older rows are trimmed by the sink.
    history_retention_days: int = Field(default=400, ge=1)
    # A run that would delete, or stop passing back, more than this share of what the SIS
    # holds from Passback stops before sending (issue 17; `--allow-mass-change` confirms).
    mass_change_share: float = Field(default=0.10, gt=0, le=1)


class ScheduleSettings(_Strict):
    """When the district's nightly run starts, in its own time zone."""

    # "HH:MM"; empty: the SIS profile's default (Infinite Campus 05:00, after its OneRoster
    # cache refresh at 4:10; others 02:00).
    nightly_time: str | None = None

    @field_validator("nightly_time")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("must be a 24-hour local time such as 05:00")
        return value


class ReportSettings(_Strict):
    """What the quality report writes besides its page and CSVs (checks/report)."""

    # One CSV per teacher (teachers/<teacher>.csv plus teachers.csv) for a mail merge, on every
    # run; `passback report --per-teacher` writes them on demand.
    per_teacher: bool = Field(default=False, strict=True)
    # Student names (SIS given and family name) in the per-teacher files only, never in the
    # page, the other CSVs, Dagster metadata or logs. Off by default: students appear by
    # SIS sourcedId.
    student_names: bool = Field(default=False, strict=True)


class OtusSource(_Strict):
    """Where the Otus gradebook export is (a folder path, relative to this file, or a URL)."""

    export: str


class DistrictConfig(_Strict):
    """One district: its SIS, its passback decisions, its category mapping, its Otus export."""

    district: str
    name: str | None = None
    time_zone: str
    sis: SISConfig
    passback: PassbackSettings
    categories: dict[str, str | None]
    otus: OtusSource
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    source_file: Path | None = Field(default=None, exclude=True)

    @field_validator("district")
    @classmethod
    def _district_id(cls, value: str) -> str:
        if not DISTRICT_ID.match(value):
            raise ValueError(
                "must be lower-case letters, digits, '-' or '_' (it becomes a partition key)"
            )
        return value

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone such as America/Chicago") from None
        return value

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        unknown = sorted(set(value) - set(OTUS_ASSESSMENT_TYPES))
        missing = [t for t in OTUS_ASSESSMENT_TYPES if t not in value]
        problems = []
        if unknown:
            problems.append(f"unknown Otus assessment type(s) {unknown}")
        if missing:
            problems.append(
                f"no entry for Otus assessment type(s) {missing}: map each to an SIS category "
                "sourcedId, or to null to keep that type out of passback"
            )
        if problems:
            allowed = ", ".join(OTUS_ASSESSMENT_TYPES)
            raise ValueError("; ".join(problems) + f" (the 12 Otus types are: {allowed})")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The district's time zone."""
        return ZoneInfo(self.time_zone)

    @model_validator(mode="after")
    def _deletions_need_their_scope(self) -> DistrictConfig:
        scopes = self.sis.auth.scopes if isinstance(self.sis.auth, OAuth2Auth) else []
        if self.passback.propagate_deletions and scopes and not any(
                s.endswith("/gradebook.delete") for s in scopes):
            raise ValueError(
                "passback.propagate_deletions is on but sis.auth.scopes lacks "
                "gradebook.delete: every DELETE would be refused (403); add "
                f"https://purl.imsglobal.org/spec/or/{self.sis.scope_version}/scope/"
                "gradebook.delete, or turn deletions off")
        return self

    @property
    def nightly_time(self) -> tuple[int, int]:
        """(hour, minute) of the nightly run in the district's zone: its own setting, or its
        SIS profile's default."""
        clock = self.schedule.nightly_time or PROFILES[self.sis.profile].nightly_time
        hour, minute = clock.split(":")
        return int(hour), int(minute)

    def secret_names(self) -> list[str]:
        """The environment variables this district reads its secrets from (names only)."""
        blocks = [self.sis.auth, *([self.sis.vendor] if self.sis.vendor else [])]
        return [getattr(block, name) for block in blocks
                for name in type(block).model_fields if name.endswith("_env")]

    def missing_secrets(self) -> list[str]:
        """The names of those variables that are unset or empty here (never their values)."""
        return [name for name in self.secret_names() if not os.environ.get(name)]

    def export_location(self) -> str:
        """The Otus export folder as DuckDB should read it (relative paths from the YAML)."""
        location = self.otus.export
        if "://" in location or Path(location).is_absolute() or self.source_file is None:
            return location
        return str((self.source_file.parent / location).resolve())


def secret(env_name: str, *, purpose: str) -> str:
    """The value of a secret's environment variable; a clear error (without values) if unset."""
    value = os.environ.get(env_name)
    if not value:
        raise ConfigError([f"environment variable {env_name} ({purpose}) is not set"])
    return value


def _format_error(file: Path, error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function"))
    location = re.sub(r"\.(oauth1|oauth2)(?=\.|$)", "", location)
    kind, message = error["type"], error["msg"]
    if kind == "missing":
        message = "is required but missing"
    elif kind == "extra_forbidden":
        message = "is not a known key (check the spelling; see docs/configuration.md)"
    elif kind in ("literal_error", "union_tag_invalid"):
        allowed = error.get("ctx", {}).get("expected") or error.get("ctx", {}).get("expected_tags")
        message = f"got {error.get('input')!r}; allowed: {allowed}"
    elif kind == "value_error":
        message = message.removeprefix("Value error, ")
    return f"{file}: {location or '(top level)'}: {message}"


def load_district_file(path: Path) -> DistrictConfig:
    """Load and validate one district file; raise ConfigError listing every problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: (top level): must be a mapping of keys to values"])
    try:
        config = DistrictConfig.model_validate({**raw, "source_file": path.resolve()})
    except ValidationError as exc:
        problems = [_format_error(path, err) for err in exc.errors(include_url=False)]
        raise ConfigError(problems) from None
    if config.district != path.stem:
        raise ConfigError(
            [f"{path}: district: {config.district!r} must match the file name {path.stem!r}"]
        )
    return config


def load_districts(folder: Path | None = None) -> dict[str, DistrictConfig]:
    """Every district in the mappings folder, keyed by district id; all problems at once."""
    folder = folder or mappings_dir()
    districts: dict[str, DistrictConfig] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        try:
            config = load_district_file(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        districts[config.district] = config
    if problems:
        raise ConfigError(problems)
    return districts
