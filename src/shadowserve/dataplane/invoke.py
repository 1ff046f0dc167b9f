"""InvokeEndpoint: answer from a production variant, copy to the shadow, emit events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

import aiohttp

from shadowserve.dataplane import errors
from shadowserve.dataplane.legs import Leg, leg_event
from shadowserve.dataplane.model_client import (
    ModelAnswer,
    ModelCall,
    call_model,
    model_http_client,
)
from shadowserve.dataplane.model_stream import StreamHead, StreamItem, stream_model
from shadowserve.dataplane.routing import EndpointRoute, RoutingTable, ShadowRoute, VariantRoute
from shadowserve.dataplane.sampling import is_sampled
from shadowserve.dataplane.shadow import ShadowDispatcher
from shadowserve.dataplane.worker_connections import WorkerConnections
from shadowserve.domain.arns import Scope, endpoint_log_group, log_group_arn
from shadowserve.domain.redaction import redact
from shadowserve.domain.resources import EndpointStatus
from shadowserve.events.ids import random_uuid
from shadowserve.events.invocations import ErrorKind, EventBus, Role

CONTAINER = "primary"  # SageMaker's name for a single-container endpoint's container


@dataclass(frozen=True)
class InvokeRequest:
    scope: Scope
    endpoint_name: str
    call: ModelCall
    target_variant: str | None
    inference_id: str | None


@dataclass(frozen=True)
class InvokeResponse:
    body: bytes
    content_type: str
    invoked_variant: str
    custom_attributes: str | None


@dataclass(frozen=True)
class InvokeStream:
    content_type: str
    invoked_variant: str
    custom_attributes: str | None
    chunks: AsyncIterator[bytes]  # raises InvokeError (ModelStreamError) if it breaks off


# A mirrored request's shadow leg, its route and its call: what the dispatcher is handed.
ShadowCopy = tuple[Leg, ShadowRoute, ModelCall]

# Why an endpoint has no route: its status and failure reason, or None if it does not exist.
EndpointLookup = Callable[[Scope, str], Awaitable[tuple[EndpointStatus, str | None] | None]]


class Invoker:
    def __init__(
        self,
        routing: RoutingTable,
        shadows: ShadowDispatcher,
        bus: EventBus,
        lookup: EndpointLookup,
        model_timeout: float,
    ) -> None:
        self._routing = routing
        self._shadows = shadows
        self._bus = bus
        self._lookup = lookup
        self._timeout = model_timeout
        self._connections: WorkerConnections | None = None
        self._client: aiohttp.ClientSession | None = None  # for response streams

    async def start(self) -> None:
        self._connections = WorkerConnections(limit=1000)
        self._client = model_http_client(max_connections=1000)

    async def stop(self) -> None:
        if self._connections is not None:
            await self._connections.close()
        if self._client is not None:
            await self._client.close()

    async def invoke(self, request: InvokeRequest) -> InvokeResponse:
        started = time.perf_counter_ns()
        route, variant, leg, call, copy = await self._begin(request)
        assert self._connections is not None, "start() first"
        try:
            answer = await call_model(self._connections, variant.pool, call, self._timeout)
        finally:
            if copy is not None:
                # The copy goes out once production's answer is on its way to the caller, so
                # the request never waits behind its own shadow's call (#16). Scheduled, not
                # run: the answer's write is scheduled later in this same turn, and the copy's
                # task wakes after it (callbacks run in the order they were scheduled).
                asyncio.get_running_loop().call_soon(self._shadows.submit, *copy)
        self._publish(leg, request, answer, started)
        return _response(request, route, variant, answer)

    async def invoke_stream(self, request: InvokeRequest) -> InvokeStream:
        """InvokeEndpointWithResponseStream: the head once the model answers, then its chunks
        as they come. An error before the first byte is raised as InvokeEndpoint's would be;
        one after ends the stream with a ModelStreamError."""
        started = time.perf_counter_ns()
        route, variant, leg, call, copy = await self._begin(request)
        if copy is not None:  # a stream may last long: its copy does not wait for it
            self._shadows.submit(*copy)
        assert self._client is not None, "start() first"
        items = stream_model(self._client, variant.pool, call, self._timeout)
        first = await anext(items)
        if isinstance(first, StreamHead) and 200 <= first.status < 300:
            return InvokeStream(
                first.content_type or "application/octet-stream",
                variant.name,
                first.custom_attributes,
                self._relay(items, leg, request, started),
            )
        answer = first
        async for item in items:  # an error's body, whole
            answer = item
        assert isinstance(answer, ModelAnswer)
        self._publish(leg, request, answer, started)
        raise _error(request, route, variant, answer)

    async def _relay(
        self,
        items: AsyncGenerator[StreamItem, None],
        leg: Leg,
        request: InvokeRequest,
        started: int,
    ) -> AsyncIterator[bytes]:
        answer: ModelAnswer | None = None
        body = bytearray()
        try:
            async for item in items:
                if isinstance(item, bytes):
                    body += item
                    yield item
                elif isinstance(item, ModelAnswer):
                    answer = item
        finally:
            await items.aclose()
            if answer is None:  # the caller went away mid-stream; the model did not fail
                latency = (time.perf_counter_ns() - started) // 1000
                answer = ModelAnswer(200, bytes(body), None, None, latency, None)
            self._publish(leg, request, answer, started)
        if answer.error_kind is not None:
            timed_out = answer.error_kind == ErrorKind.TIMEOUT
            why = "the model sent nothing within the timeout" if timed_out else "it broke off"
            raise errors.model_stream_error(
                f"The model's stream ended early ({why}) after {len(answer.body)} bytes.",
                timed_out,
            )

    def _publish(self, leg: Leg, request: InvokeRequest, answer: ModelAnswer, started: int) -> None:
        total_us = (time.perf_counter_ns() - started) // 1000
        self._bus.publish(leg_event(leg, request.call, answer, total_us))

    async def _begin(
        self, request: InvokeRequest
    ) -> tuple[EndpointRoute, VariantRoute, Leg, ModelCall, ShadowCopy | None]:
        """The route and production variant of a request, its leg and production's call,
        and its shadow copy if it is mirrored (for the caller to submit)."""
        route = self._routing.get(request.scope, request.endpoint_name)
        if route is None:
            raise await self._why_unrouted(request)
        variant = _production_variant(route, request.target_variant)
        shadow = route.shadow
        inference_id = request.inference_id or random_uuid()
        mirrored = shadow is not None and is_sampled(
            shadow.sampling_percentage, request.inference_id
        )
        capture = route.capture if route.capture and route.capture.enabled() else None
        leg = Leg(
            scope=request.scope,
            endpoint_name=route.endpoint_name,
            variant_name=variant.name,
            role=Role.PRODUCTION,
            experiment_name=shadow.experiment_name if shadow else None,
            # Generated when the caller sent none; both legs share it, so they join.
            inference_id=inference_id,
            inference_id_from_caller=request.inference_id is not None,
            mirrored=mirrored,
            instance_count=len(variant.pool.workers),
            capture=capture,
            # Always decided by the id (given or generated): one decision for both legs.
            captured=capture is not None
            and is_sampled(capture.initial_sampling_percentage, inference_id),
        )
        call = replace(request.call, inference_id=inference_id)
        copy: ShadowCopy | None = None
        if shadow is not None and mirrored:
            shadow_leg = replace(
                leg,
                variant_name=shadow.variant.name,
                role=Role.SHADOW,
                mirrored=False,
                instance_count=len(shadow.variant.pool.workers),
            )
            shadow_call = replace(
                call,
                custom_attributes=redact(call.custom_attributes, shadow.redacted_keys),
                experiment=shadow.experiment_name or "",
            )
            copy = (shadow_leg, shadow, shadow_call)
        return route, variant, leg, call, copy

    async def _why_unrouted(self, request: InvokeRequest) -> errors.InvokeError:
        found = await self._lookup(request.scope, request.endpoint_name)
        if found is None or found[0] == EndpointStatus.DELETING:
            return errors.validation_error(
                f"Endpoint {request.endpoint_name} of account {request.scope.account} not found."
            )
        status, reason = found
        if status == EndpointStatus.FAILED:
            return errors.validation_error(
                f"Endpoint {request.endpoint_name} is in Failed state: {reason}"
            )
        return errors.model_not_ready(
            f"Endpoint {request.endpoint_name} is not ready to serve requests (status {status})."
        )


def _production_variant(route: EndpointRoute, target: str | None) -> VariantRoute:
    if target is None:
        return route.choose()
    variant = route.variant(target)
    if variant is None:
        names = [v.name for v in route.production]
        raise errors.validation_error(
            f"Variant {target} was not found for endpoint {route.endpoint_name}; its production "
            f"variants are {names}."
        )
    return variant


def _response(
    request: InvokeRequest, route: EndpointRoute, variant: VariantRoute, answer: ModelAnswer
) -> InvokeResponse:
    if answer.error_kind is None:
        return InvokeResponse(
            answer.body,
            answer.content_type or "application/json",
            variant.name,
            answer.custom_attributes,
        )
    raise _error(request, route, variant, answer)


def _error(
    request: InvokeRequest, route: EndpointRoute, variant: VariantRoute, answer: ModelAnswer
) -> errors.InvokeError:
    """What a failed answer is to the caller: ModelError, or ServiceUnavailable."""
    if answer.error_kind == ErrorKind.NO_INSTANCE:
        return errors.service_unavailable(
            f"Variant {variant.name} of endpoint {route.endpoint_name} has no healthy instance."
        )
    group = endpoint_log_group(route.endpoint_name)
    log_stream = log_group_arn(request.scope, group)
    see = _see_logs(request.scope, group)
    if answer.error_kind == ErrorKind.TIMEOUT:
        text = f"Your invocation timed out while waiting for a response from container {CONTAINER}."
        return errors.model_error(0, text, _received(0, text) + see, log_stream)
    if answer.error_kind == ErrorKind.CONNECTION:
        text = f"The container {CONTAINER} closed the connection before answering."
        return errors.model_error(0, text, _received(0, text) + see, log_stream)
    original = answer.body.decode("utf-8", "replace")
    return errors.model_error(
        answer.status, original, _received(answer.status, original) + see, log_stream
    )


def _see_logs(scope: Scope, group: str) -> str:
    """The pointer to the endpoint's logs SageMaker ends a ModelError's message with (its
    console's address; here the same group is read with CloudWatch Logs' API)."""
    region = scope.region
    return (
        f" See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logEventViewer:group={group} in account {scope.account} for more information."
    )


def _received(status: int, original: str) -> str:
    side = "client" if 400 <= status < 500 else "server"
    return f'Received {side} error ({status}) from {CONTAINER} with message "{original}".'
