"""Routes, and nothing else: each door turns HTTP into a call of one adapter or service.

- ``POST /``: awsJson services chosen by X-Amz-Target (SageMaker, CloudApiService)
- ``POST /endpoints/{name}/invocations``: SageMaker Runtime's InvokeEndpoint
- ``GET /api/overview``, ``GET /api/experiments/{name}/report``: JSON for the dashboard and CLI
- ``/ui/``: the dashboard (static pages shipped in the package)
- ``GET /metrics`` (Prometheus) and ``GET /healthz``

With ``--auth sigv4`` the first two check every request's signature (the caller's account
comes from its key); the dashboard, its JSON and the metrics are then served to loopback
clients only, as browsers and Prometheus scrapers cannot sign.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, fields
from importlib.resources import files
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from shadowserve.auth.access import Access, is_loopback
from shadowserve.auth.sigv4 import AuthError, IncomingRequest
from shadowserve.comparison.settings import CompareSettings, Overrides
from shadowserve.dataplane.errors import InvokeError
from shadowserve.dataplane.invoke import Invoker
from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import DomainError, ResourceNotFound
from shadowserve.metrics.verdict import Thresholds
from shadowserve.objectstore import ObjectStore
from shadowserve.protocol import awsjson, runtime_api
from shadowserve.protocol.awsjson_service import AwsJsonService, WireResponse
from shadowserve.protocol.bodies import BodyTooLarge, read_limited
from shadowserve.protocol.errors import WireError
from shadowserve.services import capture_report, overview, reports
from shadowserve.services.context import ControlPlane
from shadowserve.storage_health import StorageHealth

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]
# The largest control-plane request accepted; SageMaker's and Cloud Control's are a few KB.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
# The dashboard: static pages and vendored assets shipped inside the package.
UI_DIRECTORY = str(files("shadowserve") / "ui" / "static")


@dataclass(frozen=True)
class Mounted:
    """An awsJson service, the context its handlers get, and its X-Amz-Target prefix."""

    service: AwsJsonService[Any]
    context: Any


def build_http_app(
    access: Access,
    services: Mapping[str, Mounted],
    invoker: Invoker,
    plane: ControlPlane,
    registry: CollectorRegistry,
    storage: StorageHealth,
    compare_defaults: CompareSettings,
    objects: ObjectStore,
    lifespan: Lifespan | None = None,
) -> Starlette:
    routes = [
        *aws_routes(access, services),
        *runtime_routes(access, invoker),
        *api_routes(access.default_account, plane, compare_defaults, objects),
        *operations_routes(registry, storage),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: _not_routed, 405: _not_routed})  # fmt: skip
    if access.requires_signature:
        app.add_middleware(LoopbackOnly, prefixes=("/api", "/ui", "/metrics"))
    return app


def aws_routes(access: Access, services: Mapping[str, Mounted]) -> list[BaseRoute]:
    async def aws_json(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        prefix, _, operation = target.partition(".")
        mounted = services.get(prefix)
        try:
            raw = await read_limited(request, MAX_REQUEST_BYTES)
            account = caller_account(access, request, raw)
        except BodyTooLarge as exc:
            return _error_response(WireError(
                "ValidationException",
                f"Request body of at least {exc.size} bytes exceeds the maximum of "
                f"{exc.limit} bytes.", 413))  # fmt: skip
        except AuthError as error:
            return _error_response(WireError(error.code, error.message, error.status))
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

    return [Route("/", aws_json, methods=["POST"])]


def runtime_routes(access: Access, invoker: Invoker) -> list[BaseRoute]:
    async def invocations(request: Request) -> Response:
        try:
            body = await runtime_api.read_body(request)
            account = caller_account(access, request, body)
            parsed = runtime_api.parse_invoke(request, body, account)
            return runtime_api.success(await invoker.invoke(parsed))
        except InvokeError as error:
            return runtime_api.failure(error)
        except AuthError as error:
            return runtime_api.failure(InvokeError(error.code, error.status, error.message))

    return [Route("/endpoints/{endpoint_name}/invocations", invocations, methods=["POST"])]


def api_routes(
    account: str, plane: ControlPlane, defaults: CompareSettings, objects: ObjectStore
) -> list[BaseRoute]:
    def scope_of(request: Request) -> Scope:
        return Scope(account, request.query_params.get("region", awsjson.DEFAULT_REGION))

    def report_request(request: Request) -> reports.ReportRequest:
        thresholds = thresholds_from(request.query_params)
        return reports.ReportRequest(thresholds, defaults, overrides_from(request.query_params))

    async def report(request: Request) -> Response:
        try:
            wanted = report_request(request)
        except ValueError as exc:
            return JSONResponse({"message": f"Invalid threshold: {exc}"}, status_code=400)
        name = request.path_params["name"]
        try:
            body = await run_in_threadpool(
                reports.experiment_report, plane, scope_of(request), name, wanted
            )
        except DomainError as exc:
            return _api_error(exc)
        return JSONResponse(body)

    async def report_from_capture(request: Request) -> Response:
        """NDJSON: a progress line per capture file read, then the report."""
        try:
            wanted = report_request(request)
        except ValueError as exc:
            return JSONResponse({"message": f"Invalid threshold: {exc}"}, status_code=400)
        name = request.path_params["name"]
        try:
            job = await run_in_threadpool(
                capture_report.capture_report, plane, scope_of(request), name, wanted
            )
        except DomainError as exc:
            return _api_error(exc)
        # A sync iterator: Starlette reads it in a worker thread, off the event loop.
        lines = (json.dumps(event).encode() + b"\n" for event in job.events(objects))
        return StreamingResponse(lines, media_type="application/x-ndjson")

    async def overview_page(request: Request) -> Response:
        body = await run_in_threadpool(overview.overview, plane, scope_of(request))
        return JSONResponse(body)

    return [
        Route("/api/experiments/{name}/report", report, methods=["GET"]),
        Route("/api/experiments/{name}/report/from-capture", report_from_capture, methods=["POST"]),
        Route("/api/overview", overview_page, methods=["GET"]),
        Route("/ui", lambda _request: RedirectResponse("/ui/"), methods=["GET"]),
        Mount("/ui", StaticFiles(directory=UI_DIRECTORY, html=True), name="ui"),
    ]


def operations_routes(registry: CollectorRegistry, storage: StorageHealth) -> list[BaseRoute]:
    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_request: Request) -> Response:
        # Always 200 while the server answers: a full disk is reported, not a reason for an
        # orchestrator to restart a server that still serves every invocation.
        return JSONResponse(storage.report())

    return [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]


def thresholds_from(query: Mapping[str, str]) -> Thresholds:
    """Report thresholds from query parameters named like the fields (min_pairs=200)."""
    values: dict[str, Any] = {}
    for field in fields(Thresholds):
        if field.name in query:
            kind = int if field.type in ("int", int) else float
            values[field.name] = kind(query[field.name])
    return Thresholds(**values)


def overrides_from(query: Mapping[str, str]) -> Overrides:
    """Comparison settings for one report (compare_mode, ignore, tolerance, label_threshold),
    as text; they are parsed, and refused with a clear message, by the report itself."""
    return Overrides(
        mode=query.get("compare_mode"),
        ignore=query.get("ignore"),
        tolerance=query.get("tolerance"),
        label_threshold=query.get("label_threshold"),
    )


def _api_error(error: DomainError) -> JSONResponse:
    status = 404 if isinstance(error, ResourceNotFound) else 400
    return JSONResponse({"message": error.message}, status_code=status)


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
