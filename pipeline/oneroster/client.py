"""The OneRoster reader: one per district, reading collections over the district's transport.

Reads page with limit/offset. When the server reports `X-Total-Count`, the remaining pages
are fetched concurrently within the district's budget; otherwise the client follows `Link:
rel="next"` or steps the offset itself, and stops on an empty page or a page shorter than the
largest one seen (the server's real page size, which may be below the `limit` we asked for).
Writes are `OneRosterWriter`'s (pipeline/oneroster/writer.py), on the same kind of transport:
same retry loop, budget and auth, so the two cannot drift apart.
"""

from __future__ import annotations

import json
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

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
from pipeline.oneroster.token_cache import TokenCacheDir
from pipeline.oneroster.transport import Answer, Transport

DEFAULT_PAGE_SIZE = 1000


class OneRosterClient:
    """Reads OneRoster 1.1 or 1.2 collections from one district's SIS; use as a context
    manager. `stats` counts its requests (retries and token requests included)."""

    def __init__(self, config: DistrictConfig, *, page_size: int = DEFAULT_PAGE_SIZE,
                 retry: RetryPolicy | None = None, signature_type: SignatureType = "header",
                 token_cache: TokenCacheDir | None = None):
        sis = config.sis
        self.config = config
        self.version = sis.oneroster_version
        self.page_size = page_size
        self.transport = Transport(config, retry, signature_type=signature_type,
                                   user_agent="passback-extract/0.1", token_cache=token_cache)
        self.stats: RequestStats = self.transport.stats
        self._bases = {"rostering": sis.rostering_base, "gradebook": sis.gradebook_base}
        self._width = sis.budget.max_concurrency  # pages fetched side by side at most
        # (total records the SIS announced, page size) of the read under way: progress lines.
        self.reading: tuple[int | None, int] = (None, 0)
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
        self.reading = (first.total, len(first.records) or size)
        seen = {_identity(record) for record in first.records}
        # A total is a hint for fetching pages side by side, never a loop bound: the pages
        # themselves say where the collection ends. A total below what the first page holds
        # is a lie; with it (or with none) the pages are walked one after another.
        if first.total is not None and first.total >= len(first.records):
            rest = self._walk_offsets(ep, url, params, first, seen, self._width)
        elif first.next_url or first.has_link_header:
            rest = self._follow_links(ep, url, params, first, seen)
        else:
            rest = self._walk_offsets(ep, url, params, first, seen, 1)
        # Later pages win if a record moved between pages while we were reading.
        unique: dict[Any, JSON] = {}
        for page in (first, *rest):
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

    def total(self, entity: str) -> int | None:
        """How many records the SIS says a collection holds (its `X-Total-Count`, asked with
        a page of one record); None when it does not say."""
        ep = endpoint(entity)
        url = self._bases[ep.service] + ep.path(self.version)
        return self._page(ep, url, {"limit": 1, "offset": 0}).total

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

    def _walk_offsets(self, ep: Endpoint, url: str, params: dict[str, Any], first: Page,
                      seen: set[Any], width: int, offset: int | None = None) -> list[Page]:
        """Pages after the first by offset, in order, until one comes back empty or shorter
        than the first (the server's real page size, which may be below the `limit` we asked
        for). Up to `width` pages are in flight while a total says more are left; past it,
        one at a time: a full last page costs one empty page more, so a total that
        under-reports drops nothing, and one that over-reports queues nothing. `offset`:
        where to go on from (after the first page unless given)."""
        step, total = len(first.records), first.total
        if total is not None and total < step:
            total = None  # a lie: the first page alone holds more
        size = ep.page_size or self.page_size
        if step == 0 or (total is not None and total <= step < size):
            return []  # empty, or one page smaller than asked for holding the whole total
        pages: list[Page] = []
        in_flight: deque[tuple[int, Future[Page]]] = deque()
        queued = step if offset is None else offset

        def fill() -> None:
            nonlocal queued
            while len(in_flight) < (width if total is not None and queued < total else 1):
                in_flight.append((queued, self._pool.submit(
                    self._page, ep, url, {**params, "limit": size, "offset": queued})))
                queued += step

        fill()
        ended = False
        while in_flight:
            at, future = in_flight.popleft()
            page = future.result()
            if page.records and not ended:
                self._check_new(ep, page, seen, f"the page at offset {at}")
                pages.append(page)
            elif page.records and {_identity(r) for r in page.records} - seen:
                pages.append(page)  # past the end, yet new: records moved while we read
                seen.update(_identity(r) for r in page.records)
            ended = ended or len(page.records) < step
            if not ended:
                fill()
        return pages

    def _follow_links(self, ep: Endpoint, url: str, params: dict[str, Any], first: Page,
                      seen: set[Any]) -> list[Page]:
        """Pages after the first by `Link: rel="next"`, one at a time, until a page names no
        next page or comes back empty; a next link to a page already fetched is an error. A
        next link to another host (a SIS behind a proxy naming itself) is not followed: the
        rest is read by offset from our own address."""
        pages: list[Page] = []
        visited = {_page_key(first.url)}
        page = first
        while page.records and page.next_url:
            if not _same_origin(page.next_url, url):
                read = len(first.records) + sum(len(p.records) for p in pages)
                return pages + self._walk_offsets(ep, url, params, first, seen, 1, read)
            next_url = requote_uri(_without_oauth(page.next_url))
            key = _page_key(next_url)
            if key in visited:
                raise OneRosterError(
                    f"{_path(next_url)} ({ep.entity}): the SIS's Link rel=\"next\" points to "
                    "a page already fetched; stopped instead of reading it again",
                    transient=False)
            visited.add(key)
            page = self._page(ep, next_url, None)
            if page.records:
                self._check_new(ep, page, seen, "the next page")
                pages.append(page)
        return pages

    @staticmethod
    def _check_new(ep: Endpoint, page: Page, seen: set[Any], which: str) -> None:
        """Refuse a page holding only records already read: the SIS ignores the paging, and
        going on would read the same records for ever."""
        fresh = {_identity(record) for record in page.records} - seen
        if not fresh:
            raise OneRosterError(
                f"{_path(page.url)} ({ep.entity}): {which} repeats records already read "
                "(the SIS ignores the paging); stopped instead of reading it again",
                transient=False)
        seen.update(fresh)

    def _page(self, ep: Endpoint, url: str, params: dict[str, Any] | None) -> Page:
        response = self._get(url, ep, params)
        body = self._json(response, ep)
        records = _collection(body, ep.wrapper_key)
        if not isinstance(records, list):
            # An imsx failure, another wrapper ({"data": []}) or any body without the collection
            # sent with a 200 is not an empty collection: reading it as one would wipe the
            # district's rows on a full load.
            imsx = body.get("imsx_description") or body.get("imsx_codeMajor")
            found = ", ".join(f"`{str(key)[:40]}`" for key in list(body)[:5]) or "none"
            raise OneRosterError(
                f"{_path(response.url)} ({ep.entity}): the body holds no `{ep.wrapper_key}` "
                f"list: expected {{\"{ep.wrapper_key}\": [...]}}, found keys {found}"
                + (f" (imsx: {imsx})" if imsx else ""), response.status, transient=False)
        self.stats.count(pages=1)
        total = response.headers.get("X-Total-Count")
        next_link = response.links().get("next", {}).get("url")
        if next_link:
            next_link = urljoin(response.url, next_link)  # a relative link is on our host
        return Page([r for r in records if isinstance(r, dict)],
                    int(total) if total and total.strip().isdigit() else None,
                    next_link, "Link" in response.headers, response.url)

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
            kind = (response.headers.get("Content-Type") or "no content type")[:60]
            raise OneRosterError(f"{_path(response.url)} ({ep.entity}): the body is not JSON "
                                 f"(HTTP {response.status}, {kind})", response.status,
                                 transient=False) from None
        if not isinstance(body, dict):
            raise OneRosterError(f"{_path(response.url)} ({ep.entity}): the body is not a JSON "
                                 "object", response.status, transient=False)
        return body

    def _record_url(self, ep: Endpoint, sourced_id: str) -> str:
        return f"{self._bases[ep.service]}{ep.path(self.version)}/{quote(sourced_id, safe='')}"


def _latest(records: list[JSON], cursor_field: str) -> str | None:
    """The latest cursor value among records, as an ISO UTC timestamp with milliseconds."""
    stamps = [s for s in (to_timestamp(r.get(cursor_field)) for r in records) if s is not None]
    if not stamps:
        return None
    return max(stamps).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _collection(body: JSON, wrapper: str) -> Any:
    """The collection under its wrapper key (any letter case); None when the body has none."""
    if wrapper in body:
        return body[wrapper]
    return next((value for key, value in body.items()
                 if isinstance(key, str) and key.lower() == wrapper.lower()), None)


def _identity(record: JSON) -> Any:
    """What tells one record from another: its sourcedId, else its whole content."""
    sourced_id = record.get("sourcedId")
    return sourced_id if isinstance(sourced_id, str) and sourced_id \
        else json.dumps(record, sort_keys=True, default=str)


def _page_key(url: str) -> tuple[str, str, tuple]:
    """A page's address without signature parameters or `limit`, in a canonical order."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.startswith("oauth_") and k != "limit"]
    return parts.netloc, parts.path, tuple(sorted(query))


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
