"""Routes: ``POST /`` (awsJson services by X-Amz-Target), ``POST /endpoints/{name}/invocations``
(SageMaker Runtime), ``GET /api/experiments/{name}/report`` (the comparison report as JSON),
``GET /metrics`` (Prometheus) and ``GET /healthz``. No business logic."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, fields
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shadowserve.dataplane.errors import InvokeError
from shadowserve.dataplane.invoke import Invoker
from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import DomainError
from shadowserve.metrics.report import Thresholds
from shadowserve.protocol import awsjson, runtime_api
from shadowserve.protocol.awsjson_service import AwsJsonService, WireResponse
from shadowserve.protocol.errors import WireError
from shadowserve.services import reports
from shadowserve.services.context import ControlPlane

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class Mounted:
    """An awsJson service, the context its handlers get, and its X-Amz-Target prefix."""

    service: AwsJsonService[Any]
    context: Any


def build_http_app(
    account: str,
    services: Mapping[str, Mounted],
    invoker: Invoker,
    plane: ControlPlane,
    registry: CollectorRegistry,
    lifespan: Lifespan | None = None,
) -> Starlette:
    async def aws_json(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        prefix, _, operation = target.partition(".")
        mounted = services.get(prefix)
        raw = await request.body()
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

    async def invocations(request: Request) -> Response:
        try:
            parsed = await runtime_api.parse_invoke(request, account)
            return runtime_api.success(await invoker.invoke(parsed))
        except InvokeError as error:
            return runtime_api.failure(error)

    async def report(request: Request) -> Response:
        try:
            thresholds = thresholds_from(request.query_params)
        except ValueError as exc:
            return JSONResponse({"message": f"Invalid threshold: {exc}"}, status_code=400)
        scope = Scope(account, request.query_params.get("region", awsjson.DEFAULT_REGION))
        name = request.path_params["name"]
        try:
            body = await run_in_threadpool(
                reports.experiment_report, plane, scope, name, thresholds
            )
        except DomainError as exc:
            return JSONResponse({"message": exc.message}, status_code=404)
        return JSONResponse(body)

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/", aws_json, methods=["POST"]),
            Route("/endpoints/{endpoint_name}/invocations", invocations, methods=["POST"]),
            Route("/api/experiments/{name}/report", report, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def thresholds_from(query: Mapping[str, str]) -> Thresholds:
    """Report thresholds from query parameters named like the fields (min_pairs=200)."""
    values: dict[str, Any] = {}
    for field in fields(Thresholds):
        if field.name in query:
            kind = int if field.type in ("int", int) else float
            values[field.name] = kind(query[field.name])
    return Thresholds(**values)


def _to_response(wire: WireResponse) -> Response:
    return Response(content=wire.body, status_code=wire.status, headers=wire.headers)


def _unknown_target(target: str) -> Response:
    error = WireError("UnknownOperationException", f"Unknown operation target '{target}'.")
    return Response(
        content=awsjson.error_body(error),
        status_code=400,
        headers={"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": error.code},
    )
