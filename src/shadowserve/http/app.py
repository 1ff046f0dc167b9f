"""Routes, and nothing else: each door turns HTTP into a call of one adapter or service.

- ``POST /``: awsJson services chosen by X-Amz-Target (SageMaker, CloudApiService,
  CloudWatch), and awsQuery forms chosen by their Version (CloudWatch, STS)
- ``POST /endpoints/{name}/invocations``: SageMaker Runtime's InvokeEndpoint, and
  ``…/invocations-response-stream``: InvokeEndpointWithResponseStream
- ``/api/…`` and ``/ui/``: the dashboard and its JSON, which the CLI reads too (http/api.py)
- ``GET /``: a browser is sent to the dashboard
- ``GET /metrics`` (Prometheus) and ``GET /healthz``

With ``--auth sigv4`` the first two check every request's signature (the caller's account
comes from its key); the dashboard, its JSON and the metrics are then served to loopback
clients only, as browsers and Prometheus scrapers cannot sign.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from shadowserve.auth.access import Access, is_loopback
from shadowserve.auth.sigv4 import AuthError, IncomingRequest
from shadowserve.dataplane.errors import InvokeError
from shadowserve.dataplane.invoke import Invoker
from shadowserve.domain.errors import DomainError
from shadowserve.http.api import ApiDependencies, api_routes
from shadowserve.protocol import awsjson, awsquery, runtime_api
from shadowserve.protocol.awsjson_service import AwsJsonService, WireResponse
from shadowserve.protocol.awsquery import QueryService
from shadowserve.protocol.bodies import BodyTooLarge, read_limited
from shadowserve.protocol.errors import RequestTooLarge, WireError, to_wire
from shadowserve.protocol.validate import SerializationFailed

log = logging.getLogger(__name__)
INTERNAL = "An internal error occurred while processing the request. Try again."
Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]
# The largest control-plane request accepted; SageMaker's and Cloud Control's are a few KB.
MAX_REQUEST_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Mounted:
    """An awsJson service, the context its handlers get, and its X-Amz-Target prefix."""

    service: AwsJsonService[Any]
    context: Any


def build_http_app(
    access: Access,
    services: Mapping[str, Mounted],
    queries: Mapping[str, QueryService],
    invoker: Invoker,
    api: ApiDependencies,
    registry: CollectorRegistry,
    health: Callable[[], dict[str, object]],
    lifespan: Lifespan | None = None,
) -> ASGIApp:
    doors = runtime_doors(access, invoker)
    routes = [
        *aws_routes(access, services, queries),
        *runtime_routes(doors),
        *api_routes(access.default_account, api),
        *operations_routes(registry, health),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: _not_routed, 405: _not_routed})  # fmt: skip
    if access.requires_signature:
        app.add_middleware(LoopbackOnly, prefixes=("/api", "/ui", "/metrics"))
    return InvocationsFirst(app, doors)


def aws_routes(
    access: Access, services: Mapping[str, Mounted], queries: Mapping[str, QueryService]
) -> list[BaseRoute]:
    aws_query = query_door(access, queries)

    async def aws_post(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        content_type = request.headers.get("content-type", "")
        if not target and content_type.startswith("application/x-www-form-urlencoded"):
            return await aws_query(request)
        prefix, _, operation = target.partition(".")
        mounted = services.get(prefix)
        try:
            raw = await read_limited(request, MAX_REQUEST_BYTES)
            account = caller_account(access, request, raw)
        except BodyTooLarge as exc:
            return _refused(mounted, _too_large(exc))
        except AuthError as error:
            return _refused(mounted, error)
        if mounted is None or not operation:
            return _unknown_target(target)
        scope = awsjson.scope_for(
            account,
            request.headers.get("authorization"),
            request.query_params.get("X-Amz-Credential"),
        )
        wire = await run_in_threadpool(
            mounted.service.handle, mounted.context, scope, operation, raw
        )
        return _to_response(wire)

    async def home(request: Request) -> Response:
        # A person who opens the server's address in a browser wants the dashboard; an API
        # client that GETs / gets AWS's error shape, as for every other unknown route.
        if "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/ui/")
        return await _not_routed(request, HTTPException(405))

    return [Route("/", aws_post, methods=["POST"]), Route("/", home, methods=["GET"])]


def query_door(
    access: Access, queries: Mapping[str, QueryService]
) -> Callable[[Request], Awaitable[Response]]:
    """awsQuery forms (``Action=…&Version=…``), handed to the service of their Version."""

    async def aws_query(request: Request) -> Response:
        try:
            raw = await read_limited(request, MAX_REQUEST_BYTES)
            account = caller_account(access, request, raw)
            form = awsquery.parse_form(raw)
        except BodyTooLarge as exc:
            return _to_response(awsquery.error_response(to_wire(_too_large(exc))))
        except AuthError as error:
            return _to_response(awsquery.error_response(to_wire(error)))
        except SerializationFailed as error:
            return _to_response(awsquery.error_response(WireError("MalformedInput", error.message)))
        action, version = form.get("Action", ""), form.get("Version", "")
        service = queries.get(version)
        if service is None:
            # Services not served here (IAM, …): their own error document, so clients raise a
            # ClientError that says what happened instead of failing to parse an answer.
            return _to_response(awsquery.error_response(WireError(
                "InvalidAction", f"Could not find operation {action or '(none)'} for version "
                f"{version or '(none)'}: shadowserve does not serve this service.")))  # fmt: skip
        scope = awsjson.scope_for(
            account,
            request.headers.get("authorization"),
            request.query_params.get("X-Amz-Credential"),
        )
        return _to_response(await run_in_threadpool(service.handle, scope, action, form))

    return aws_query


Door = Callable[[Request], Awaitable[Response]]
INVOCATIONS = "invocations"
RESPONSE_STREAM = "invocations-response-stream"


def runtime_doors(access: Access, invoker: Invoker) -> dict[str, Door]:
    """InvokeEndpoint's and InvokeEndpointWithResponseStream's handlers, by the last part
    of their path (``/endpoints/{endpoint_name}/<that>``)."""

    def door(streaming: bool) -> Door:
        async def invocations(request: Request) -> Response:
            try:
                body = await runtime_api.read_body(request)
                account = caller_account(access, request, body)
                parsed = runtime_api.parse_invoke(request, body, account, streaming)
                if streaming:
                    return runtime_api.stream_success(await invoker.invoke_stream(parsed))
                return runtime_api.success(await invoker.invoke(parsed))
            except (InvokeError, AuthError) as error:
                return runtime_api.failure(error)

        return invocations

    return {INVOCATIONS: door(streaming=False), RESPONSE_STREAM: door(streaming=True)}


def runtime_routes(doors: Mapping[str, Door]) -> list[BaseRoute]:
    """The same doors as routes: InvocationsFirst takes their POSTs before the router, which
    still answers their other methods (405, in AWS's shape)."""
    base = "/endpoints/{endpoint_name}"
    return [Route(f"{base}/{tail}", door, methods=["POST"]) for tail, door in doors.items()]


class InvocationsFirst:
    """Invocations straight to their door, ahead of Starlette's middleware and router.

    Every InvokeEndpoint took the router's walk past every control-plane and dashboard route
    and four middleware layers, about a tenth of the gateway's CPU per request (py-spy,
    docs/benchmarks.md). Anything else, and any path that is not exactly
    ``/endpoints/<name>/<door>``, goes on to the app as before.
    """

    def __init__(self, app: ASGIApp, doors: Mapping[str, Door]) -> None:
        self._app = app
        self._doors = doors

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            door, name = self._door_of(scope["path"])
            if door is not None:
                scope["path_params"] = {"endpoint_name": name}
                try:
                    response = await door(Request(scope, receive))
                except Exception:  # answered in the runtime's shape, not as a bare 500
                    log.exception("InvokeEndpoint failed unexpectedly")
                    response = runtime_api.failure(InvokeError("InternalFailure", INTERNAL))
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)

    def _door_of(self, path: str) -> tuple[Door | None, str]:
        if not path.startswith("/endpoints/"):
            return None, ""
        name, _, tail = path[len("/endpoints/") :].partition("/")
        return (self._doors.get(tail) if name else None), name


def operations_routes(
    registry: CollectorRegistry, health: Callable[[], dict[str, object]]
) -> list[BaseRoute]:
    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_request: Request) -> Response:
        # Always 200 while the server answers: a full disk is reported, not a reason for an
        # orchestrator to restart a server that still serves every invocation.
        return JSONResponse(await run_in_threadpool(health))

    return [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]


def caller_account(access: Access, request: Request, body: bytes) -> str:
    """The caller's account; AuthError when the request's signature does not pass."""
    if not access.requires_signature:
        return access.default_account
    scope = request.scope
    return access.account(
        IncomingRequest(
            method=request.method,
            raw_path=scope.get("raw_path", b"").decode("latin-1") or request.url.path,
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=body,
        )
    )


class LoopbackOnly:
    """Paths under the given prefixes answer only clients on this machine (403 otherwise)."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...]) -> None:
        self._app = app
        self._prefixes = prefixes

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self._prefixes):
            client = scope.get("client")
            if client is None or not is_loopback(client[0]):
                response = JSONResponse(
                    {"message": "With --auth sigv4 this page is served to loopback clients "
                                "only."},
                    status_code=403,
                )  # fmt: skip
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)


def _too_large(exc: BodyTooLarge) -> RequestTooLarge:
    return RequestTooLarge(
        f"Request body of at least {exc.size} bytes exceeds the maximum of {exc.limit} bytes."
    )


def _refused(mounted: Mounted | None, error: Exception) -> Response:
    """A request refused before its operation ran, in its service's error shape (awsJson
    1.0 or 1.1); an unknown target's in awsJson 1.1."""
    if mounted is not None:
        return _to_response(mounted.service.failure(error))
    assert isinstance(error, DomainError)
    return _error_response(to_wire(error))


def _error_response(error: WireError) -> Response:
    return Response(
        content=awsjson.error_body(error),
        status_code=error.status,
        headers={"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": error.code},
    )


async def _not_routed(request: Request, exc: Exception) -> Response:
    """404 and 405 in AWS's error shape, as everything else this server answers."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return _error_response(WireError(
        "UnknownOperationException",
        f"No operation at {request.method} {request.url.path}.", status))  # fmt: skip


def _to_response(wire: WireResponse) -> Response:
    return Response(content=wire.body, status_code=wire.status, headers=wire.headers)


def _unknown_target(target: str) -> Response:
    shown = target if len(target) <= 256 else target[:256] + "…"
    return _error_response(
        WireError("UnknownOperationException", f"Unknown operation target '{shown}'.")
    )
