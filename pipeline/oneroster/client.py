"""The OneRoster REST client: one per district, reading collections and writing records.

Reads page with limit/offset. When the server reports `X-Total-Count`, the remaining pages
are fetched concurrently within the district's budget; otherwise the client follows `Link:
rel="next"` or steps the offset itself, and stops on an empty page or a page shorter than the
largest one seen (the server's real page size, which may be below the `limit` we asked for).
Writes (`put`, `delete`) share the same session, retries, budget and 401 handling.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import requests

from pipeline.config import DistrictConfig, OAuth1Auth, _check_url
from pipeline.oneroster.auth import (
    OneRosterAuthError,
    SignatureType,
    request_auth,
    vendor_headers,
)
from pipeline.oneroster.endpoints import Endpoint, endpoint
from pipeline.oneroster.flatten import to_timestamp
from pipeline.oneroster.models import (
    JSON,
    Extract,
    OneRosterError,
    Page,
    Quarantined,
    WriteOutcome,
    parse_imsx,
)
from pipeline.oneroster.transport import (
    RequestStats,
    RetryPolicy,
    budget_for,
    build_session,
    redact_url,
    retries_of,
    send_resigned,
)

DEFAULT_PAGE_SIZE = 1000


class OneRosterClient:
    """Talks OneRoster 1.1 or 1.2 to one district's SIS; use as a context manager."""

    def __init__(self, config: DistrictConfig, *, page_size: int = DEFAULT_PAGE_SIZE,
                 retry: RetryPolicy | None = None, signature_type: SignatureType = "header"):
        sis = config.sis
        # Validated configs already refuse it; one built around validation (model_copy,
        # model_construct) must still never send credentials in clear to a remote host.
        for url in (sis.rostering_base, sis.gradebook_base, getattr(sis.auth, "token_url", "")):
            if url:
                _check_url(url)
        self.config = config
        self.version = sis.oneroster_version
        self.page_size = page_size
        self.stats = RequestStats()
        self._timeout = (min(10.0, sis.timeout_seconds), sis.timeout_seconds)
        self._budget = budget_for(config.district, sis.budget.max_requests_per_second,
                                  sis.budget.max_concurrency)
        self._policy = retry or RetryPolicy()
        # OAuth 1 nonces are single-use: the adapter only retries connects that never reached
        # the server, and other retries re-sign (same urllib3 policy, see send_resigned).
        self._resign = isinstance(sis.auth, OAuth1Auth)
        adapter_retry = self._policy.connect_only() if self._resign else self._policy.retry()
        self._session = build_session(adapter_retry, sis.budget.max_concurrency)
        # Token requests are POSTs: safe to retry, so they get their own session that allows it.
        token_session = build_session(self._policy.retry(frozenset({"POST"})), 1)
        self._auth, self._tokens = request_auth(sis, token_session, self.stats, signature_type)
        self._vendor = vendor_headers(sis)
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
        self._session.close()

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
        response = self._request("GET", self._record_url(ep, sourced_id), ep)
        if response.status_code == 404:
            return None
        body = self._json(response, ep)
        record = body.get(ep.record_key)
        return record if isinstance(record, dict) else None

    # Writes ------------------------------------------------------------------------------

    def put(self, entity: str, sourced_id: str, payload: JSON) -> WriteOutcome:
        """Create or replace one record; `payload` is the record (wrapped in its key here)."""
        ep = endpoint(entity)
        response = self._request("PUT", self._record_url(ep, sourced_id), ep,
                                 json={ep.record_key: {**payload, "sourcedId": sourced_id}})
        return self._outcome(response)

    def delete(self, entity: str, sourced_id: str) -> WriteOutcome:
        """Delete one record (the SIS marks it `tobedeleted`)."""
        ep = endpoint(entity)
        return self._outcome(self._request("DELETE", self._record_url(ep, sourced_id), ep))

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
                page = self._page(ep, _without_oauth(page.next_url), None)
            elif not page.next_url and (page.has_link_header or len(page.records) < largest):
                break  # the server pages by Link and named no next page, or this was the tail
            else:
                offset += len(page.records)
                page = self._page(ep, url, {**params, "limit": size, "offset": offset})
            largest = max(largest, len(page.records))
            pages.append(page)
        return pages

    def _page(self, ep: Endpoint, url: str, params: dict[str, Any] | None) -> Page:
        response = self._request("GET", url, ep, params=params)
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
                                 response.status_code)
        self.stats.count(pages=1)
        total = response.headers.get("X-Total-Count")
        next_link = response.links.get("next", {}).get("url")
        return Page([r for r in records if isinstance(r, dict)],
                    int(total) if total and total.strip().isdigit() else None,
                    next_link, "Link" in response.headers)

    # One request -------------------------------------------------------------------------

    def _request(self, method: str, url: str, ep: Endpoint, *,
                 params: dict[str, Any] | None = None, json: JSON | None = None,
                 ) -> requests.Response:
        """Send one call within the budget; renew an OAuth 2 token once on a 401."""
        headers = self._vendor if ep.service == "gradebook" else {}
        for attempt in (1, 2):
            token = self._tokens.token() if self._tokens else None
            try:
                response, retried = self._send(method, url, params, json, headers)
            except requests.RequestException as exc:
                # str(exc) would echo the signed URL: name the path and the failure only.
                raise OneRosterError(f"{method} {_path(url)} failed after retries: "
                                     f"{type(exc).__name__}") from None
            self.stats.count(requests=1 + retried, retries=retried)
            if response.status_code == 401 and attempt == 1 and token is not None:
                assert self._tokens is not None
                self._tokens.renew(token)
                continue
            break
        if response.status_code == 401:
            raise OneRosterAuthError(
                f"{method} {_path(url)}: the SIS refused our credentials (HTTP 401); "
                "check the district's auth settings and environment variables")
        return response

    def _send(self, method: str, url: str, params: dict[str, Any] | None, json: JSON | None,
              headers: dict[str, str]) -> tuple[requests.Response, int]:
        """One call and its retries, holding a budget slot per attempt."""

        def attempt() -> requests.Response:
            with self._budget.slot():
                return self._session.request(method, url, params=params, json=json,
                                             headers=headers, auth=self._auth,
                                             timeout=self._timeout)

        if self._resign:
            return send_resigned(attempt, method, url, self._policy.retry())
        response = attempt()
        return response, retries_of(response)

    def _json(self, response: requests.Response, ep: Endpoint) -> JSON:
        if not response.ok:
            imsx = parse_imsx(response)
            raise OneRosterError(
                f"{response.request.method} {_path(response.url)} ({ep.entity}): HTTP "
                f"{response.status_code}: {imsx or response.reason}",
                response.status_code, imsx)
        try:
            body = response.json()
        except ValueError:
            raise OneRosterError(f"{_path(response.url)} ({ep.entity}): the body is not JSON",
                                 response.status_code) from None
        if not isinstance(body, dict):
            raise OneRosterError(f"{_path(response.url)} ({ep.entity}): the body is not a JSON "
                                 "object", response.status_code)
        return body

    def _outcome(self, response: requests.Response) -> WriteOutcome:
        body: JSON | None = None
        if response.content:
            try:
                parsed = response.json()
                body = parsed if isinstance(parsed, dict) else None
            except ValueError:
                body = None
        imsx = None if response.ok else parse_imsx(response)
        return WriteOutcome(response.status_code, imsx, retries_of(response), body)

    def _record_url(self, ep: Endpoint, sourced_id: str) -> str:
        return f"{self._bases[ep.service]}{ep.path(self.version)}/{sourced_id}"


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
