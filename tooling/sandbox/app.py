"""The sandbox's ASGI application: routes, authentication, scopes and errors.

Routes are generated from the rostering endpoint table and the gradebook
kinds, once per service base. Every route goes through `guarded`, which
authenticates (OAuth 1 or 2), checks the scope and the Infinite Campus vendor
header, and turns an `ImsxError` into an imsx status body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from pipeline.oneroster.spec import SpecValidators
from tooling.sandbox.auth import Authenticator, needed_scopes
from tooling.sandbox.errors import ImsxError, bad_request, imsx_body, unknown_object
from tooling.sandbox.gradebook import GradebookApi, GradebookService
from tooling.sandbox.profiles import SISProfile
from tooling.sandbox.query import page, select_fields
from tooling.sandbox.roster import Roster
from tooling.sandbox.rostering import (
    VIEW_WRAPPERS,
    RosterEndpoint,
    parent_exists,
)

log = logging.getLogger(__name__)
V1P1, ROSTERING, GRADEBOOK = ("/ims/oneroster/v1p1", "/ims/oneroster/rostering/v1p2",
                              "/ims/oneroster/gradebook/v1p2")
Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class SandboxContext:
    """Everything a request handler needs, built once per sandbox."""

    roster: Roster
    profile: SISProfile
    auth: Authenticator
    gradebook: GradebookApi
    services: dict[str, GradebookService]  # "v1p1" / "v1p2"
    roster_views: dict[str, dict[str, dict[str, dict]]]  # version -> view -> id -> JSON
    roster_validators: dict[str, SpecValidators]
    url: str
    bulk_writes: bool = True  # serve the 1.2 bulk POSTs


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    """Compact JSON (large pages serialise faster without indentation)."""
    content = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
    return Response(content, status, headers, media_type="application/json")


def error_response(error: ImsxError, v1p2: bool) -> Response:
    """An imsx failure body with the error's HTTP status and headers."""
    return json_response(imsx_body(error.code_minor, error.description, v1p2), error.status,
                         error.headers)


def is_v1p2_path(path: str) -> bool:
    """True for the 1.2 services (their error bodies differ from 1.1)."""
    return not path.startswith(V1P1)


async def _read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("request body is not valid JSON") from None


def guarded(ctx: SandboxContext, family: str, handler: Handler) -> Handler:
    """Wrap a handler with authentication, scope and vendor checks and imsx errors."""

    async def endpoint(request: Request) -> Response:
        path = request.scope["path"]
        v1p2 = is_v1p2_path(path)
        try:
            scopes = await _scopes(ctx, request)
            needed = needed_scopes(family, request.method, v1p2)
            if scopes.isdisjoint(needed):
                raise ImsxError(403, "forbidden", f"the access token lacks the scope "
                                f"{needed[0]} needed for {request.method} here")
            if ctx.profile.requires_vendor_header and path.startswith(GRADEBOOK):
                _check_vendor(ctx, request.headers.get("x-vendor-authorization"))
            return await handler(request)
        except ImsxError as error:
            return error_response(error, v1p2)
        except Exception:  # a sandbox bug must still answer in the spec's error shape
            log.exception("sandbox handler failed")
            return error_response(ImsxError(500, "internal_server_error",
                                            "the sandbox failed to handle the request"), v1p2)

    return endpoint


async def _scopes(ctx: SandboxContext, request: Request) -> frozenset[str]:
    """The request's scopes; a bearer token is a dict lookup, a signature needs it all."""
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        return ctx.auth.bearer_scopes(authorization[7:].strip())
    headers = {k.lower(): v for k, v in request.headers.items()}
    body = (await request.body()).decode("utf-8", "replace") or None
    query = request.scope["query_string"].decode("latin-1")
    uri = f"{ctx.url}{request.scope['path']}" + (f"?{query}" if query else "")
    return ctx.auth.scopes_for(uri, request.method, body, headers)


def _check_vendor(ctx: SandboxContext, header: str | None) -> None:
    creds = ctx.auth.credentials
    if not header:
        raise ImsxError(401, "unauthorisedrequest", "Infinite Campus requires the "
                        "x-vendor-authorization header (vendor key:secret) on 1.2 gradebook "
                        "calls")
    if header != f"{creds.vendor_key}:{creds.vendor_secret}":
        raise ImsxError(401, "unauthorisedrequest", "x-vendor-authorization does not match "
                        "the vendor key and secret")


def roster_handler(ctx: SandboxContext, endpoint: RosterEndpoint, version: str) -> Handler:
    """A rostering GET (collection or single object) from the endpoint table."""
    collection, single, v1p1_schema, v1p2_schema = VIEW_WRAPPERS[endpoint.view]
    validators = ctx.roster_validators[version]
    allowed = validators.properties(v1p2_schema if version == "v1p2" else v1p1_schema)

    async def handle(request: Request) -> Response:
        params = dict(request.path_params)
        if not parent_exists(ctx.roster, endpoint, params):
            raise unknown_object(f"no such parent object for {request.url.path}")
        ids = endpoint.select(ctx.roster, params)
        view = ctx.roster_views[version][endpoint.view]
        if endpoint.single:
            if not ids:
                raise unknown_object(f"{single} '{params['id']}' does not exist")
            return json_response({single: select_fields(view[ids[0]], request.query_params,
                                                        allowed)})
        result = page([view[i] for i in ids], request.query_params,
                      f"{ctx.url}{request.url.path}", allowed,
                      ctx.profile.default_page_size, ctx.profile.max_page_size)
        return json_response({collection: result.items}, headers=result.headers)

    return handle


def collection_handler(ctx: SandboxContext, version: str, kind: str,
                keep: Callable[[dict, dict[str, str]], bool] | None = None,
                parent: str | None = None) -> Handler:
    """A gradebook GET collection, optionally narrowed by path parameters."""
    service = ctx.services[version]
    allowed = service.allowed(kind)

    async def handle(request: Request) -> Response:
        params = dict(request.path_params)
        if parent and params[parent] not in ctx.roster.classes:
            raise unknown_object(f"class '{params[parent]}' does not exist")
        if "line_item_id" in params and ctx.gradebook.store.get(
                "lineItems", params["line_item_id"]) is None:
            raise unknown_object(f"line item '{params['line_item_id']}' does not exist")
        records = ctx.gradebook.records(kind, (lambda r: keep(r, params)) if keep else None)
        result = page([service.render(kind, r) for r in records], request.query_params,
                      f"{ctx.url}{request.url.path}", allowed,
                      ctx.profile.default_page_size, ctx.profile.max_page_size)
        return json_response({kind: result.items}, headers=result.headers)

    return handle


def single_object_handler(ctx: SandboxContext, version: str, kind: str) -> Handler:
    """GET, PUT and DELETE of one category, line item or result."""
    service = ctx.services[version]
    v1p2 = version == "v1p2"

    async def handle(request: Request) -> Response:
        sourced_id = request.path_params["id"]
        if request.method == "GET":
            found = ctx.gradebook.get_one(service, kind, sourced_id)
            wrapper = next(iter(found))
            return json_response({wrapper: select_fields(found[wrapper], request.query_params,
                                                         service.allowed(kind))})
        if request.method == "DELETE":
            ctx.gradebook.delete_one(kind, sourced_id)
            # 1.2 documents 204 for a delete, the 1.1 document only 200.
            return json_response(None, 204 if v1p2 else 200)
        ctx.gradebook.put_one(service, kind, sourced_id, await _read_json(request))
        # Both documents describe a PUT's success without a body; what the SIS stored
        # (an Infinite Campus floor, say) is read back with a GET.
        return Response(status_code=201 if v1p2 else 200)

    return handle


def bulk_handler(ctx: SandboxContext, kind: str, fixed: dict[str, str], parent: tuple[str, str]
          ) -> Handler:
    """A 1.2 bulk POST; `fixed` maps record fields to path parameter names."""
    service = ctx.services["v1p2"]

    async def handle(request: Request) -> Response:
        params = dict(request.path_params)
        view, param = parent
        exists = (ctx.gradebook.store.get(view, params[param]) is not None
                  if view == "lineItems" else params[param] in getattr(ctx.roster, view))
        if not exists:
            raise unknown_object(f"'{params[param]}' does not exist")
        values = {field: params[name] for field, name in fixed.items()}
        body = ctx.gradebook.post_many(service, kind, await _read_json(request), values)
        return json_response(body, 201)

    return handle
