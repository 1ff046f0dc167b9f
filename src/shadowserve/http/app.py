"""Routes: ``POST /`` (awsJson services by X-Amz-Target), ``POST /endpoints/{name}/invocations``
(SageMaker Runtime), ``GET /metrics`` (Prometheus) and ``GET /healthz``. No business logic."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shadowserve.dataplane.errors import InvokeError
from shadowserve.dataplane.invoke import Invoker
from shadowserve.protocol import awsjson, runtime_api
from shadowserve.protocol.awsjson_service import AwsJsonService, WireResponse
from shadowserve.protocol.errors import WireError

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

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/", aws_json, methods=["POST"]),
            Route("/endpoints/{endpoint_name}/invocations", invocations, methods=["POST"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def _to_response(wire: WireResponse) -> Response:
    return Response(content=wire.body, status_code=wire.status, headers=wire.headers)


def _unknown_target(target: str) -> Response:
    error = WireError("UnknownOperationException", f"Unknown operation target '{target}'.")
    return Response(
        content=awsjson.error_body(error),
        status_code=400,
        headers={"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": error.code},
    )
