"""imsx status bodies: how the sandbox says no.

Both versions use ``imsx_codeMajor``/``imsx_severity``/``imsx_description`` and
an ``imsx_CodeMinor`` list, but 1.1 requires ``imsx_messageRefIdentifier`` and
knows fewer minor codes, so each code is translated to the nearest 1.1 value.
"""

from __future__ import annotations

import uuid
from typing import Any

# 1.2 codeMinor values 1.1's enum lacks, and the 1.1 value closest to each.
V1P1_CODE_MINOR = {
    "invalid_filter_field": "invalid_selection_field",
    "internal_server_error": "targetreadfailure",
    "server_busy": "targetreadfailure",
    "forbidden": "unauthorisedrequest",
}


class ImsxError(Exception):
    """A request the sandbox refuses, carried to the response as an imsx body."""

    def __init__(self, status: int, code_minor: str, description: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.code_minor = code_minor
        self.description = description
        self.headers = headers or {}


def imsx_body(code_minor: str, description: str, v1p2: bool) -> dict[str, Any]:
    """A failure status body valid for the version's imsx_StatusInfo schema."""
    if not v1p2:
        code_minor = V1P1_CODE_MINOR.get(code_minor, code_minor)
    body: dict[str, Any] = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {"imsx_codeMinorField": [
            {"imsx_codeMinorFieldName": "TargetEndSystem",
             "imsx_codeMinorFieldValue": code_minor}]},
    }
    if not v1p2:
        body["imsx_messageRefIdentifier"] = str(uuid.uuid4())
    return body


def bad_request(description: str) -> ImsxError:
    """400: the request itself is malformed."""
    return ImsxError(400, "invaliddata", description)


def unknown_object(description: str) -> ImsxError:
    """404: the addressed object does not exist."""
    return ImsxError(404, "unknownobject", description)


def refused(description: str, code_minor: str = "invaliddata") -> ImsxError:
    """422: well-formed, but the SIS will not store it."""
    return ImsxError(422, code_minor, description)
