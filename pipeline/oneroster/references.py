"""References (GUIDRefs) by identity, and the `href`s a body carries on the wire.

What the SIS stores of a reference is its `sourcedId` and `type`; its `href` is only where
the referenced object lives under the district's current base URL. The sink plans and hashes
records whose references carry no `href` (so moving a district to another base URL changes
nothing it has to send) and `Hrefs.link` adds them when a body is encoded for sending: the
spec requires `href` on every GUIDRef.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from pipeline.config import SISConfig

JSON = dict[str, Any]
ROSTERING, GRADEBOOK = "rostering", "gradebook"
# Where each reference type lives: the service whose base URL it hangs off, and the collection.
# 1.1 bodies carry the same (1.2) type names (see pipeline/sink/payloads.py).
REFERENCE_TARGETS: dict[str, tuple[str, str]] = {
    "class": (ROSTERING, "classes"),
    "org": (ROSTERING, "orgs"),
    "academicSession": (ROSTERING, "academicSessions"),
    "user": (ROSTERING, "users"),
    "category": (GRADEBOOK, "categories"),
    "lineItem": (GRADEBOOK, "lineItems"),
}


def reference(kind: str, sourced_id: str) -> JSON:
    """A reference by identity: what the SIS stores (no `href`, which `Hrefs.link` adds)."""
    return {"sourcedId": sourced_id, "type": kind}


def is_reference(value: object) -> bool:
    """Whether a record's field is a single GUIDRef (a dict naming a sourcedId and a type)."""
    return isinstance(value, dict) and "sourcedId" in value and "type" in value


# A reference without href as compact JSON encodes it: `{"sourcedId":"…","type":"…"}`.
_ENCODED_REFERENCE = re.compile(rb'\{"sourcedId":"((?:[^"\\]|\\.)*)","type":"([A-Za-z]+)"\}')


@dataclass(frozen=True, slots=True)
class Hrefs:
    """The base URLs a district's references point at today."""

    rostering: str
    gradebook: str

    @classmethod
    def for_sis(cls, sis: SISConfig) -> Hrefs:
        """The hrefs of a district's SIS configuration."""
        return cls(sis.rostering_base, sis.gradebook_base)

    def href(self, kind: str, sourced_id: str) -> str:
        """The URL of the object a reference of type `kind` names."""
        service, collection = REFERENCE_TARGETS[kind]
        base = self.gradebook if service == GRADEBOOK else self.rostering
        return f"{base}/{collection}/{sourced_id}"

    def link(self, record: JSON) -> JSON:
        """`record` with an `href` on every reference that lacks one (the input is never
        changed: a linked record is a new dict). `href` goes first, so the body is byte for
        byte what the sink sent when hrefs were part of the planned record. Unknown types are
        left as they are: the spec check refuses them before anything is sent."""
        linked = None
        for key, value in record.items():
            if (is_reference(value) and "href" not in value
                    and value["type"] in REFERENCE_TARGETS):
                if linked is None:
                    linked = dict(record)
                linked[key] = {"href": self.href(value["type"], value["sourcedId"]), **value}
        return record if linked is None else linked

    def link_json(self, encoded: bytes) -> bytes:
        """`link` on a record already encoded as compact JSON (`separators=(",", ":")`),
        without decoding it: the same bytes as encoding the linked record, at a fraction of
        the cost (a bulk body carries a thousand records). The sourcedId goes into the href
        in its JSON-escaped form, which is the same string once decoded."""
        prefixes = _href_prefixes(self.rostering, self.gradebook)

        def linked(match: re.Match[bytes]) -> bytes:
            prefix = prefixes.get(match.group(2))
            if prefix is None:
                return match.group(0)  # unknown type: left as `link` leaves it
            return b'{"href":' + prefix + match.group(1) + b'",' + match.group(0)[1:]

        return _ENCODED_REFERENCE.sub(linked, encoded)


@functools.lru_cache(maxsize=16)
def _href_prefixes(rostering: str, gradebook: str) -> dict[bytes, bytes]:
    """Per reference type, the JSON-encoded start of its href (`"https://…/classes/`)."""
    return {kind.encode(): json.dumps(
        f"{gradebook if service == GRADEBOOK else rostering}/{collection}/")[:-1].encode()
        for kind, (service, collection) in REFERENCE_TARGETS.items()}
