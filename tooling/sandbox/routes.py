"""The sandbox's route table: which path of which service runs which handler."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from tooling.sandbox.app import (
    GRADEBOOK,
    ROSTERING,
    V1P1,
    Handler,
    SandboxContext,
    bulk_handler,
    collection_handler,
    error_response,
    guarded,
    is_v1p2_path,
    roster_handler,
    single_object_handler,
)
from tooling.sandbox.errors import ImsxError
from tooling.sandbox.gradebook import KINDS
from tooling.sandbox.rostering import ROSTER_ENDPOINTS


def _class_filter(field: str, param: str) -> Callable[[dict, dict[str, str]], bool]:
    return lambda record, params: record.get(field) == params[param]


def _gradebook_routes(ctx: SandboxContext, base: str, version: str) -> list[Route]:
    def wrap(handler: Handler) -> Handler:
        return guarded(ctx, "gradebook", handler)

    in_class = _class_filter("class", "class_id")
    # Single-object routes first: PUT /{kind}/{id} is the hot path, and routes match in order.
    routes: list[Route] = []
    for kind in KINDS:
        routes.append(Route(f"{base}/{kind}", wrap(collection_handler(ctx, version, kind)),
                            methods=["GET"]))
        routes.append(Route(f"{base}/{kind}/{{id}}",
                            wrap(single_object_handler(ctx, version, kind)),
                            methods=["GET", "PUT", "DELETE"]))
    routes += [
        Route(f"{base}/classes/{{class_id}}/lineItems", wrap(
            collection_handler(ctx, version, "lineItems", in_class, "class_id")), methods=["GET"]),
        Route(f"{base}/classes/{{class_id}}/results", wrap(
            collection_handler(ctx, version, "results", in_class, "class_id")), methods=["GET"]),
        Route(f"{base}/classes/{{class_id}}/lineItems/{{line_item_id}}/results", wrap(
            collection_handler(ctx, version, "results",
                               lambda r, p: r.get("class") == p["class_id"]
                               and r.get("lineItem") == p["line_item_id"], "class_id")),
              methods=["GET"]),
        Route(f"{base}/classes/{{class_id}}/students/{{student_id}}/results", wrap(
            collection_handler(ctx, version, "results",
                               lambda r, p: r.get("class") == p["class_id"]
                               and r.get("student") == p["student_id"], "class_id")),
              methods=["GET"]),
    ]
    if version == "v1p2":
        routes.append(Route(f"{base}/classes/{{class_id}}/categories", wrap(
            collection_handler(ctx, version, "categories", None, "class_id")), methods=["GET"]))
    if version == "v1p2" and ctx.bulk_writes:
        # Without them (`bulk_writes=False`), a POST answers 405 where a GET route shares
        # the path and 404 elsewhere, as a SIS that lacks them does.
        routes += [
            Route(f"{base}/classes/{{class_id}}/lineItems", wrap(
                bulk_handler(ctx, "lineItems", {"class": "class_id"}, ("classes", "class_id"))),
                methods=["POST"]),
            Route(f"{base}/schools/{{school_id}}/lineItems", wrap(
                bulk_handler(ctx, "lineItems", {"school": "school_id"}, ("orgs", "school_id"))),
                methods=["POST"]),
            Route(f"{base}/lineItems/{{line_item_id}}/results", wrap(
                bulk_handler(ctx, "results", {"lineItem": "line_item_id"},
                      ("lineItems", "line_item_id"))), methods=["POST"]),
            Route(f"{base}/classes/{{class_id}}/academicSessions/{{session_id}}/results", wrap(
                bulk_handler(ctx, "results", {"class": "class_id", "academicSession": "session_id"},
                      ("classes", "class_id"))), methods=["POST"]),
        ]
    return routes


def _roster_routes(ctx: SandboxContext, base: str, version: str) -> list[Route]:
    return [Route(f"{base}{endpoint.path}",
                  guarded(ctx, "roster", roster_handler(ctx, endpoint, version)),
                  methods=["GET"])
            for endpoint in ROSTER_ENDPOINTS]


async def _token(request: Request) -> Response:
    ctx: SandboxContext = request.app.state.ctx
    body = (await request.body()).decode("utf-8", "replace")
    headers = {k: v for k, v in request.headers.items()}
    # oauthlib's parser ignores a body it cannot read as a form; say so instead of 400-ing
    # with a confusing "missing grant_type".
    if body and not parse_qsl(body):
        return Response('{"error":"invalid_request"}', 400, media_type="application/json")
    status, response_headers, content = ctx.auth.token_response(
        f"{ctx.url}/oauth/token", body, headers)
    return Response(content, status, response_headers, media_type="application/json")


async def _not_found(request: Request, _exc: Exception) -> Response:
    return error_response(ImsxError(404, "unknownobject",
                                    f"no endpoint at {request.url.path}"),
                          is_v1p2_path(request.url.path))


async def _not_allowed(request: Request, _exc: Exception) -> Response:
    return error_response(ImsxError(405, "unsupportedoperation" if not is_v1p2_path(
        request.url.path) else "invaliddata", f"{request.method} is not supported on "
        f"{request.url.path}"), is_v1p2_path(request.url.path))


def build_app(ctx: SandboxContext) -> Starlette:
    """The ASGI application serving one sandbox context."""
    # Gradebook routes of 1.1 share the base with rostering; register them first so a
    # literal path such as /classes/{id}/lineItems never falls into a roster pattern.
    # One Mount per service keeps route matching short on the hot PUT path.
    routes = [
        Mount(GRADEBOOK, routes=_gradebook_routes(ctx, "", "v1p2")),
        Mount(V1P1, routes=_gradebook_routes(ctx, "", "v1p1") + _roster_routes(ctx, "", "v1p1")),
        Mount(ROSTERING, routes=_roster_routes(ctx, "", "v1p2")),
        Route("/oauth/token", _token, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_allowed})
    app.state.ctx = ctx
    return app
