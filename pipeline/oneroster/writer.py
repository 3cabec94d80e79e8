"""The OneRoster writer: PUT, DELETE and 1.2 bulk POST of one district's gradebook records.

It is the reader's transport with a write API on top, so writes take the same budget, retry
loop and auth as reads (see transport.py); the body is encoded before any slot is taken.
Records come with references by sourcedId and type; the `href`s the spec requires are added
here, from the district's base URL of this writer (see references.py).

A bulk POST (`post_many`) carries many records in one `LineItemSetDType` / `ResultSetDType`
body, checked against the spec as sent. It is not idempotent where the SIS allocates its own
sourcedIds, so a lost answer is not retried here (the sink reconciles); a 429 or 503 (the
SIS did not take the body) is retried under the policy, honouring `Retry-After`.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from pipeline.config import DistrictConfig
from pipeline.oneroster.auth import SignatureType
from pipeline.oneroster.bodies import set_problem
from pipeline.oneroster.endpoints import Endpoint, endpoint
from pipeline.oneroster.models import (
    JSON,
    BulkOutcome,
    OneRosterError,
    WriteOutcome,
    parse_imsx,
    sourced_id_pairs,
)
from pipeline.oneroster.policy import RequestStats, RetryPolicy
from pipeline.oneroster.references import Hrefs
from pipeline.oneroster.token_cache import TokenCacheDir
from pipeline.oneroster.transport import Answer, Transport


class OneRosterWriter:
    """Creates, replaces and deletes records in one district's SIS; use as a context manager.

    Only PUT (OneRoster's create-or-replace at a sourcedId the client picks) and DELETE: both
    idempotent, so both are retried (a 409 / 412 a few times, then it is the SIS's answer).
    `stats` counts requests, retries and token renewals.
    """

    def __init__(self, config: DistrictConfig, policy: RetryPolicy | None = None, *,
                 signature_type: SignatureType = "header",
                 token_cache: TokenCacheDir | None = None) -> None:
        sis = config.sis
        self.transport = Transport(config, policy, signature_type=signature_type,
                                   user_agent="passback-sink/0.1", token_cache=token_cache)
        self.stats: RequestStats = self.transport.stats
        self._version = sis.oneroster_version
        self._bases = {"rostering": sis.rostering_base, "gradebook": sis.gradebook_base}
        self.hrefs = Hrefs.for_sis(sis)

    def __enter__(self) -> OneRosterWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self.transport.close()

    def put(self, entity: str, sourced_id: str, payload: JSON) -> WriteOutcome:
        """Create or replace one record (`payload` is the record; it is wrapped here, and
        every reference without an `href` gets one pointing under this district's base URL)."""
        ep = endpoint(entity)
        body = json.dumps({ep.record_key: {**self.hrefs.link(payload), "sourcedId": sourced_id}},
                          separators=(",", ":")).encode("utf-8")
        return _outcome(self.transport.send("PUT", self._url(ep, sourced_id),
                                            service=ep.service, body=body))

    def delete(self, entity: str, sourced_id: str) -> WriteOutcome:
        """Delete one record (the SIS marks it `tobedeleted` or removes it)."""
        ep = endpoint(entity)
        return _outcome(self.transport.send("DELETE", self._url(ep, sourced_id),
                                            service=ep.service))

    def post_many(self, entity: str, path: str, records: list[JSON] | None = None, *,
                  encoded: list[bytes] | None = None) -> BulkOutcome:
        """Create many records in one 1.2 bulk POST to `path` (under the gradebook base; see
        `bulk_path`): `{"lineItems": [...]}` or `{"results": [...]}`, each record linked.

        `records` are checked against the set schema as sent. `encoded` records (compact
        JSON, as the sink plans them) are linked without decoding (`Hrefs.link_json`): the
        plan checked each of them, linked, against the same item schema, and decoding and
        re-encoding a thousand records costs more than the request. Raises ValueError when
        a body breaks the spec (nothing is sent), `OneRosterError` when no answer came (the
        SIS may or may not have stored the records)."""
        if self._version != "1.2":
            raise ValueError("bulk POSTs are OneRoster 1.2 only")
        key = endpoint(entity).wrapper_key
        if encoded is not None:
            data = b'{"' + key.encode() + b'":[' + b",".join(
                self.hrefs.link_json(record) for record in encoded) + b"]}"
        else:
            data = self._checked_set(entity, key, records or [])
        url = self._bases["gradebook"] + path
        retries = 0
        while True:
            answer = self.transport.send("POST", url, service="gradebook", body=data)
            if answer.status not in _NOT_TAKEN or retries >= self.transport.policy.total:
                break
            # Refused before it was handled: safe to send again, after the SIS's pause.
            retries += 1
            self.stats.count(retries=1)
            time.sleep(_pause(answer.headers.get("Retry-After"), retries))
        outcome = _outcome(answer)
        pairs = sourced_id_pairs(outcome.body) if outcome.ok else {}
        return BulkOutcome(outcome.status, outcome.imsx, answer.retries + retries, pairs)

    def _checked_set(self, entity: str, key: str, records: list[JSON]) -> bytes:
        body = {key: [self.hrefs.link(record) for record in records]}
        problem = set_problem(entity, body)
        if problem:
            raise ValueError(f"bulk {key} body breaks the OneRoster 1.2 spec: {problem}")
        return json.dumps(body, separators=(",", ":")).encode("utf-8")

    def read_many(self, entity: str, path: str, page_size: int = 1000) -> list[JSON]:
        """Every record of a gradebook collection at `path` (under the gradebook base), page
        by page: for checking what the SIS holds before anything is posted again."""
        key, found = endpoint(entity).wrapper_key, []
        url = self._bases["gradebook"] + path
        while True:
            answer = self.transport.send("GET", url, service="gradebook",
                                         params={"limit": page_size, "offset": len(found)})
            if not answer.ok:
                raise OneRosterError(f"GET {path}: HTTP {answer.status}", answer.status,
                                     parse_imsx(answer))
            page = answer.json().get(key) or []
            found += [record for record in page if isinstance(record, dict)]
            if len(page) < page_size:
                return found

    def _url(self, ep: Endpoint, sourced_id: str) -> str:
        return f"{self._bases[ep.service]}{ep.path(self._version)}/{quote(sourced_id, safe='')}"


# Statuses a SIS answers before handling a body: it stored nothing.
_NOT_TAKEN = frozenset({429, 503})


def _pause(retry_after: str | None, attempt: int) -> float:
    """Seconds before sending a bulk POST again: the SIS's `Retry-After` (seconds), else a
    short doubling pause."""
    try:
        return max(0.0, min(float(retry_after), 60.0)) if retry_after else min(0.1 * 2 ** attempt,
                                                                              5.0)
    except ValueError:
        return 1.0


def bulk_path(entity: str, container: tuple[str, ...]) -> str:
    """The bulk POST path of a container: `("class", c)` for line items, `("lineItem", li)`
    or `("class", c, "academicSession", gp)` for results."""
    q = [quote(part, safe="") for part in container[1::2]]
    if entity == "line_items" and container[0] == "class":
        return f"/classes/{q[0]}/lineItems"
    if entity == "results" and container[0] == "lineItem":
        return f"/lineItems/{q[0]}/results"
    if entity == "results" and container[0] == "class" and len(q) == 2:
        return f"/classes/{q[0]}/academicSessions/{q[1]}/results"
    raise ValueError(f"no bulk POST for {entity} under {container!r}")


def _outcome(answer: Answer) -> WriteOutcome:
    """The SIS's answer as a `WriteOutcome`: status, imsx on failure, retries, JSON body."""
    body: dict[str, Any] | None = None
    if answer.data:
        try:
            parsed = answer.json()
            body = parsed if isinstance(parsed, dict) else None
        except ValueError:
            body = None
    imsx = None if answer.ok or not answer.data else parse_imsx(answer)
    return WriteOutcome(answer.status, imsx, answer.retries, body)
