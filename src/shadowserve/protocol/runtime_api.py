"""SageMaker Runtime's InvokeEndpoint and InvokeEndpointWithResponseStream over restJson1:
HTTP request → InvokeRequest → HTTP (a body, or an event stream)."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from shadowserve.dataplane.errors import InvokeError, validation_error
from shadowserve.dataplane.invoke import InvokeRequest, InvokeResponse, InvokeStream
from shadowserve.dataplane.model_client import ModelCall
from shadowserve.domain.errors import CodedError
from shadowserve.events.ids import random_uuid
from shadowserve.protocol import awsjson, eventstream
from shadowserve.protocol.awsjson_service import load_service_model
from shadowserve.protocol.bodies import BodyTooLarge, read_limited
from shadowserve.protocol.errors import status_of
from shadowserve.protocol.validate import SerializationFailed, ValidationFailed, validate

EVENT_STREAM = "application/vnd.amazon.eventstream"
MAX_PAYLOAD = 6 * 1024 * 1024  # 6 MB, botocore's BodyBlob limit
_INPUT = load_service_model("sagemaker-runtime").operation_model("InvokeEndpoint").input_shape

# Modeled header members (all but the body), checked against the service model; ASGI
# servers hand header names over in lower case.
_HEADERS: dict[str, bytes] = {
    "ContentType": b"content-type",
    "Accept": b"accept",
    "CustomAttributes": b"x-amzn-sagemaker-custom-attributes",
    "TargetModel": b"x-amzn-sagemaker-target-model",
    "TargetVariant": b"x-amzn-sagemaker-target-variant",
    "TargetContainerHostname": b"x-amzn-sagemaker-target-container-hostname",
    "InferenceId": b"x-amzn-sagemaker-inference-id",
    "EnableExplanations": b"x-amzn-sagemaker-enable-explanations",
    "InferenceComponentName": b"x-amzn-sagemaker-inference-component",
    "SessionId": b"x-amzn-sagemaker-session-id",
}
_STREAM_ACCEPT = b"x-amzn-sagemaker-accept"


async def read_body(request: Request) -> bytes:
    """The payload, refused once it is more than InvokeEndpoint accepts."""
    try:
        return await read_limited(request, MAX_PAYLOAD)
    except BodyTooLarge as exc:
        raise _too_large(exc.size) from None


def parse_invoke(
    request: Request, body: bytes, account: str, streaming: bool = False
) -> InvokeRequest:
    name = request.path_params["endpoint_name"]
    # The raw headers once, as a dict (the first of repeated names wins, as Starlette's
    # lookup): Starlette's Headers scans its list for every name asked, and this asks a
    # dozen (a fifth of this function's CPU, #16).
    headers = dict(reversed(request.scope["headers"]))
    members = {m: headers[h].decode("latin-1") for m, h in _HEADERS.items() if h in headers}
    if streaming:  # InvokeEndpointWithResponseStream names Accept in a header of its own
        members.pop("Accept", None)
        if _STREAM_ACCEPT in headers:
            members["Accept"] = headers[_STREAM_ACCEPT].decode("latin-1")
    problem = _invalid(name, tuple(members.items()))
    if problem is not None:
        raise validation_error(problem)
    if "TargetModel" in members:
        raise validation_error(
            f"Endpoint {name} is not a multi-model endpoint and does not support target model "
            "header."
        )
    authorization = headers.get(b"authorization")
    query = request.scope.get("query_string")  # parsed only when there is one (presigned)
    scope = awsjson.scope_for(
        account,
        authorization.decode("latin-1") if authorization is not None else None,
        request.query_params.get("X-Amz-Credential") if query else None,
    )
    call = ModelCall(
        body=body,
        content_type=members.get("ContentType", "application/octet-stream"),
        accept=members.get("Accept"),
        custom_attributes=members.get("CustomAttributes"),
    )
    return InvokeRequest(
        scope, name, call, members.get("TargetVariant"), members.get("InferenceId")
    )


@functools.lru_cache(maxsize=4096)
def _invalid(name: str, members: tuple[tuple[str, str], ...]) -> str | None:
    """AWS's validation message for these modeled members, or None. Cached: the same
    endpoint name and headers arrive on almost every request, and matching the service
    model's patterns was a measurable share of the request path's CPU."""
    try:
        validate(_INPUT, {"EndpointName": name, **dict(members)}, not_required=frozenset({"Body"}))
    except (ValidationFailed, SerializationFailed) as exc:
        return exc.message
    return None


def _too_large(size: int) -> InvokeError:
    return validation_error(
        f"Received payload of {size} bytes exceeds the maximum of {MAX_PAYLOAD} bytes "
        "for InvokeEndpoint."
    )


def success(response: InvokeResponse) -> Response:
    # The model's Content-Type goes out verbatim (Starlette would add a charset to text/*).
    headers = _answered(response.invoked_variant, response.custom_attributes)
    headers["Content-Type"] = response.content_type
    return Response(response.body, 200, headers)


def _answered(variant: str, custom_attributes: str | None) -> dict[str, str]:
    headers = {"x-Amzn-Invoked-Production-Variant": variant, "x-amzn-RequestId": random_uuid()}
    if custom_attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
    return headers


def stream_success(stream: InvokeStream) -> Response:
    """The model's chunks as PayloadPart events, as they come; a break-off as a final
    ModelStreamError event (the status line was sent long before)."""

    async def events() -> AsyncIterator[bytes]:
        try:
            async for chunk in stream.chunks:
                if chunk:
                    yield eventstream.event("PayloadPart", chunk)
        except InvokeError as error:
            fields = {"Message": error.message, "ErrorCode": str(error.extra.get("ErrorCode"))}
            yield eventstream.exception(error.code, fields)

    headers = _answered(stream.invoked_variant, stream.custom_attributes)
    headers["X-Amzn-SageMaker-Content-Type"] = stream.content_type
    return StreamingResponse(events(), 200, headers, media_type=EVENT_STREAM)


# SageMaker Runtime's statuses for its errors (botocore's model), and for the SigV4 and
# storage errors that can also end a runtime call.
_STATUS = {
    "ValidationError": 400,
    "ModelError": 424,
    "ModelStreamError": 424,
    "ModelNotReadyException": 429,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "InternalDependencyException": 530,
}


def failure(error: InvokeError | CodedError) -> Response:
    """An error in SageMaker Runtime's shape: the code as X-Amzn-ErrorType and in the body."""
    extra = error.extra if isinstance(error, InvokeError) else {}
    body: dict[str, object] = {
        "ErrorCode": error.code,
        "Message": error.message,
        "message": error.message,
    }
    body |= extra
    return Response(
        json.dumps(body),
        _STATUS.get(error.code) or status_of(error.code),
        {
            "X-Amzn-ErrorType": error.code,
            "Content-Type": "application/json",
            "x-amzn-RequestId": random_uuid(),
        },
    )
