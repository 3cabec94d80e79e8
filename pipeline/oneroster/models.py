"""What the OneRoster client hands back: pages, extracts, set-aside records, write outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from pipeline.oneroster.policy import RequestStats, is_transient

JSON = dict[str, Any]


class HasJSON(Protocol):
    """An HTTP answer whose body can be parsed (the transport's `Answer`)."""

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not."""


@dataclass(frozen=True)
class Imsx:
    """The SIS's own account of a failure (the imsx_StatusInfo of OneRoster)."""

    code_major: str | None
    severity: str | None
    description: str | None
    code_minor: str | None

    def __str__(self) -> str:
        parts = [self.code_major, self.code_minor, self.description]
        return ": ".join(p for p in parts if p) or "no imsx status"


def parse_imsx(response: HasJSON) -> Imsx | None:
    """The imsx status of a response body, wherever the SIS put it; None when there is none."""
    try:
        payload: Any = response.json()
    except ValueError:
        return None
    info = _find_status(payload)
    if info is None:
        return None
    minor = info.get("imsx_CodeMinor") or info.get("imsx_codeMinor")
    if isinstance(minor, dict):
        fields = minor.get("imsx_codeMinorField") or []
        first = fields[0] if isinstance(fields, list) and fields else {}
        minor = first.get("imsx_codeMinorFieldValue") if isinstance(first, dict) else None
    return Imsx(_text(info.get("imsx_codeMajor")), _text(info.get("imsx_severity")),
                _text(info.get("imsx_description")), _text(minor))


def _find_status(payload: Any, depth: int = 0) -> dict | None:
    """The first dict holding `imsx_codeMajor`, at most two levels down (lists included)."""
    if isinstance(payload, dict):
        if "imsx_codeMajor" in payload:
            return payload
        children = list(payload.values())
    elif isinstance(payload, list):
        children = payload
    else:
        return None
    if depth >= 2:
        return None
    for child in children:
        found = _find_status(child, depth + 1)
        if found is not None:
            return found
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class OneRosterError(RuntimeError):
    """A OneRoster call that failed after retries; the message names the call, never secrets.

    `transient` says whether a later try may succeed (the SIS down, rate limiting, no answer):
    decided from the status by `policy.is_transient` unless the raiser knows better (a 200
    whose body is not the collection is permanent). Permanent errors fail a step at once.
    """

    def __init__(self, message: str, status: int | None = None, imsx: Imsx | None = None,
                 *, transient: bool | None = None):
        super().__init__(message)
        self.status = status
        self.imsx = imsx
        self.transient = is_transient(status) if transient is None else transient


@dataclass(frozen=True)
class WriteOutcome:
    """How the SIS answered a PUT or DELETE: 2xx is success, anything else carries imsx."""

    status: int
    imsx: Imsx | None
    retries: int
    body: JSON | None = None

    @property
    def ok(self) -> bool:
        """True for 200, 201 and 204 (OneRoster servers answer PUT with any of them)."""
        return 200 <= self.status < 300


@dataclass(frozen=True)
class BulkOutcome:
    """How the SIS answered a 1.2 bulk POST: its status, imsx on failure, retries, and the
    sourcedIds it allocated (`pairs`: supplied -> allocated, every record of the body that
    the answer names; a record it does not name kept the supplied one)."""

    status: int
    imsx: Imsx | None
    retries: int
    pairs: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True for a 2xx (the spec documents 201)."""
        return 200 <= self.status < 300


def sourced_id_pairs(body: Any) -> dict[str, str]:
    """supplied -> allocated sourcedIds of a `GUIDPairSetDType` answer, read tolerantly: a
    missing or malformed answer names nothing, a pair without an allocated id keeps the
    supplied one, and the keys' spelling is not insisted on."""
    pairs: dict[str, str] = {}
    found = body.get("sourcedIdPairs") if isinstance(body, dict) else None
    if not isinstance(found, list):
        return pairs
    for pair in found:
        if not isinstance(pair, dict):
            continue
        keys = {str(key).lower(): value for key, value in pair.items()}
        supplied, allocated = keys.get("suppliedsourcedid"), keys.get("allocatedsourcedid")
        if isinstance(supplied, str) and supplied:
            pairs[supplied] = allocated if isinstance(allocated, str) and allocated \
                else supplied
    return pairs


@dataclass(frozen=True)
class Page:
    """One page of a collection and what the server said about the rest."""

    records: list[JSON]
    total: int | None  # X-Total-Count: a hint, never a loop bound
    next_url: str | None
    has_link_header: bool
    url: str = ""  # as asked for (unsigned), for messages


@dataclass(frozen=True)
class Quarantined:
    """A record set aside instead of loaded, and why."""

    entity: str
    sourced_id: str | None
    reason: str
    record: JSON


@dataclass
class Extract:
    """One entity read from the SIS: loadable rows, deletions, set-aside records, cost."""

    entity: str
    rows: pa.Table
    deleted: list[str]
    quarantined: list[Quarantined]
    cursor: str | None  # the latest dateLastModified seen (ISO, UTC), or None if nothing came
    stats: RequestStats = field(default_factory=RequestStats)
