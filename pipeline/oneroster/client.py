"""The OneRoster reader: one per district, reading collections over the district's transport.

Reads page with limit/offset. When the server reports `X-Total-Count`, the remaining pages
are fetched concurrently within the district's budget; otherwise the client follows `Link:
rel="next"` or steps the offset itself, and stops on an empty page or a page shorter than the
largest one seen (the server's real page size, which may be below the `limit` we asked for).
Writes are `OneRosterWriter`'s (pipeline/oneroster/writer.py), on the same kind of transport:
same retry loop, budget and auth, so the two cannot drift apart.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pyarrow as pa
from requests.utils import requote_uri

from pipeline.config import DistrictConfig
from pipeline.oneroster.auth import SignatureType
from pipeline.oneroster.endpoints import Endpoint, endpoint
from pipeline.oneroster.flatten import to_timestamp
from pipeline.oneroster.models import (
    JSON,
    Extract,
    OneRosterError,
    Page,
    Quarantined,
    parse_imsx,
)
from pipeline.oneroster.policy import RequestStats, RetryPolicy, redact_url
from pipeline.oneroster.transport import Answer, Transport

DEFAULT_PAGE_SIZE = 1000


class OneRosterClient:
    """Reads OneRoster 1.1 or 1.2 collections from one district's SIS; use as a context
    manager. `stats` counts its requests (retries and token requests included)."""

    def __init__(self, config: DistrictConfig, *, page_size: int = DEFAULT_PAGE_SIZE,
                 retry: RetryPolicy | None = None, signature_type: SignatureType = "header"):
        sis = config.sis
        self.config = config
        self.version = sis.oneroster_version
        self.page_size = page_size
        self.transport = Transport(config, retry, signature_type=signature_type,
                                   user_agent="passback-extract/0.1")
        self.stats: RequestStats = self.transport.stats
        self._bases = {"rostering": sis.rostering_base, "gradebook": sis.gradebook_base}
        self._pool = ThreadPoolExecutor(max_workers=sis.budget.max_concurrency,
                                        thread_name_prefix=f"oneroster-{config.district}")

    def __enter__(self) -> OneRosterClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker threads and close the connections."""
        self._pool.shutdown(wait=True)
        self.transport.close()

    # Reads -------------------------------------------------------------------------------

    def records(self, entity: str, *, since: str | None = None) -> list[JSON]:
        """Every record of a collection (changed after `since`, an ISO timestamp, if given)."""
        ep = endpoint(entity)
        params: dict[str, Any] = {}
        if since:
            params["filter"] = f"{ep.cursor_field}>'{since}'"
        url = self._bases[ep.service] + ep.path(self.version)
        size = ep.page_size or self.page_size
        first = self._page(ep, url, {**params, "limit": size, "offset": 0})
        # A total below what the first page already holds is a lie: trusting it would drop
        # records silently (and a full load would then delete them). Walk the pages instead.
        if first.total is not None and first.total >= len(first.records):
            pages = [first, *self._remaining_by_total(ep, url, params, first)]
            pages += self._beyond_total(ep, url, params, pages)
        else:
            pages = [first, *self._remaining_in_sequence(ep, url, params, first)]
        # Later pages win if a record moved between pages while we were reading.
        unique: dict[Any, JSON] = {}
        for page in pages:
            for record in page.records:
                unique[record.get("sourcedId") or id(record)] = record
        return list(unique.values())

    def extract(self, entity: str, *, since: str | None = None) -> Extract:
        """A collection as warehouse rows, with deletions and set-aside records separated."""
        ep = endpoint(entity)
        before = (self.stats.requests, self.stats.pages, self.stats.retries)
        records = self.records(entity, since=since)
        rows, deleted, quarantined = [], [], []
        for record in records:
            sourced_id = record.get("sourcedId") or None
            if record.get("status") == "tobedeleted" and sourced_id:
                deleted.append(str(sourced_id))
                continue
            missing = ep.missing_fields(record)
            if missing:
                reason = "missing required field(s): " + ", ".join(missing)
                quarantined.append(Quarantined(entity, sourced_id, reason, record))
                continue
            rows.append(ep.flatten(record, self.config.district))
        stats = RequestStats(requests=self.stats.requests - before[0],
                             pages=self.stats.pages - before[1],
                             retries=self.stats.retries - before[2])
        return Extract(entity, pa.Table.from_pylist(rows, schema=ep.arrow_schema), deleted,
                       quarantined, _latest(records, ep.cursor_field), stats)

    def get(self, entity: str, sourced_id: str) -> JSON | None:
        """One record by sourcedId, or None when the SIS does not have it."""
        ep = endpoint(entity)
        response = self._get(self._record_url(ep, sourced_id), ep)
        if response.status == 404:
            return None
        body = self._json(response, ep)
        record = body.get(ep.record_key)
        return record if isinstance(record, dict) else None

    # Paging ------------------------------------------------------------------------------

    def _remaining_by_total(self, ep: Endpoint, url: str, params: dict[str, Any],
                            first: Page) -> list[Page]:
        """Every page after the first, fetched concurrently: the total says where to stop."""
        step = len(first.records)  # the server's page size, even if it capped our limit
        assert first.total is not None
        if step == 0 or step >= first.total:
            return []
        size = ep.page_size or self.page_size
        offsets = range(step, first.total, step)
        return list(self._pool.map(
            lambda offset: self._page(ep, url, {**params, "limit": size, "offset": offset}),
            offsets))

    def _beyond_total(self, ep: Endpoint, url: str, params: dict[str, Any],
                      pages: list[Page]) -> list[Page]:
        """Pages past a total that may be short: a full last page means there may be more.

        Costs one empty page when the total was right; keeps a total that under-reports from
        silently dropping records (a full load would then delete them from the warehouse).
        """
        step = len(pages[0].records)
        offset = sum(len(page.records) for page in pages)
        size = ep.page_size or self.page_size
        if len(pages) == 1 and step < size:
            return []  # one page, smaller than asked for, holding the whole total: the end
        found: list[Page] = []
        last = pages[-1]
        while step and len(last.records) >= step:
            last = self._page(ep, url, {**params, "limit": size, "offset": offset})
            if not last.records:
                break
            found.append(last)
            offset += len(last.records)
        return found

    def _remaining_in_sequence(self, ep: Endpoint, url: str, params: dict[str, Any],
                               first: Page) -> list[Page]:
        """Pages after the first, one at a time, by `Link: next` or by stepping the offset."""
        pages: list[Page] = []
        page, offset, largest = first, 0, len(first.records)
        size = ep.page_size or self.page_size
        while page.records:
            if page.next_url and _same_origin(page.next_url, url):
                page = self._page(ep, requote_uri(_without_oauth(page.next_url)), None)
            elif not page.next_url and (page.has_link_header or len(page.records) < largest):
                break  # the server pages by Link and named no next page, or this was the tail
            else:
                offset += len(page.records)
                page = self._page(ep, url, {**params, "limit": size, "offset": offset})
            largest = max(largest, len(page.records))
            pages.append(page)
        return pages

    def _page(self, ep: Endpoint, url: str, params: dict[str, Any] | None) -> Page:
        response = self._get(url, ep, params)
        body = self._json(response, ep)
        records = body.get(ep.wrapper_key)
        if records is None:
            # Tolerate a server that names the wrapper differently: the one list in the body.
            lists = [value for value in body.values() if isinstance(value, list)]
            records = lists[0] if len(lists) == 1 else None
        if not isinstance(records, list):
            # An imsx failure (or any body without the collection) sent with a 200 is not an
            # empty collection: reading it as one would wipe the district's rows on a full load.
            imsx = body.get("imsx_description") or body.get("imsx_codeMajor")
            raise OneRosterError(f"{_path(response.url)} ({ep.entity}): the body holds no "
                                 f"`{ep.wrapper_key}` list" + (f" (imsx: {imsx})" if imsx else ""),
                                 response.status)
        self.stats.count(pages=1)
        total = response.headers.get("X-Total-Count")
        next_link = response.links().get("next", {}).get("url")
        return Page([r for r in records if isinstance(r, dict)],
                    int(total) if total and total.strip().isdigit() else None,
                    next_link, "Link" in response.headers)

    # One request -------------------------------------------------------------------------

    def _get(self, url: str, ep: Endpoint, params: dict[str, Any] | None = None) -> Answer:
        """One GET through the district's transport (retries, budget, auth, 401 renewal)."""
        return self.transport.send("GET", url, service=ep.service, params=params)

    def _json(self, response: Answer, ep: Endpoint) -> JSON:
        # A 3xx lands here too: redirects are not followed, so it is an error, not a page.
        if not response.ok:
            imsx = parse_imsx(response)
            raise OneRosterError(
                f"{response.method} {_path(response.url)} ({ep.entity}): HTTP "
                f"{response.status}: {imsx or response.reason}",
                response.status, imsx)
        try:
            body = response.json()
        except ValueError:
            raise OneRosterError(f"{_path(response.url)} ({ep.entity}): the body is not JSON",
                                 response.status) from None
        if not isinstance(body, dict):
            raise OneRosterError(f"{_path(response.url)} ({ep.entity}): the body is not a JSON "
                                 "object", response.status)
        return body

    def _record_url(self, ep: Endpoint, sourced_id: str) -> str:
        return f"{self._bases[ep.service]}{ep.path(self.version)}/{quote(sourced_id, safe='')}"


def _latest(records: list[JSON], cursor_field: str) -> str | None:
    """The latest cursor value among records, as an ISO UTC timestamp with milliseconds."""
    stamps = [s for s in (to_timestamp(r.get(cursor_field)) for r in records) if s is not None]
    if not stamps:
        return None
    return max(stamps).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _path(url: str) -> str:
    """A URL with its query masked where it carries credentials (safe for messages)."""
    return redact_url(url)


def _same_origin(candidate: str, base: str) -> bool:
    """Only follow `next` links to the host we called: never send credentials elsewhere."""
    a, b = urlsplit(candidate), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _without_oauth(url: str) -> str:
    """A next link without echoed OAuth 1 parameters, so it is signed afresh."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.startswith("oauth_")]
    return urlunsplit(parts._replace(query=urlencode(query, safe="'<>=:")))
