"""One awsJson service (its botocore model plus its handlers) behind one X-Amz-Target prefix."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import botocore.session
import pydantic
from botocore.model import ServiceModel

from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import DomainError
from shadowserve.protocol import awsjson
from shadowserve.protocol.conform import conform
from shadowserve.protocol.errors import UnknownOperation, WireError, to_wire
from shadowserve.protocol.validate import ValidationFailed, validate

log = logging.getLogger(__name__)

C = TypeVar("C")
Body = dict[str, Any]


@dataclass(frozen=True)
class WireResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def load_service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


class AwsJsonService(Generic[C]):
    """Parses, validates, dispatches and serialises the operations of one service."""

    def __init__(
        self,
        model: ServiceModel,
        handlers: Mapping[str, Callable[[C, Scope, Body], Body]],
        error_namespace: str | None = None,
        validation_error: str = "ValidationException",
    ) -> None:
        self.model = model
        self._handlers = handlers
        self._namespace = error_namespace
        self._validation_error = validation_error
        version = model.metadata.get("jsonVersion", "1.1")
        self.content_type = f"application/x-amz-json-{version}"
        self._query_errors = _query_error_codes(model)

    def handle(self, context: C, scope: Scope, operation: str, raw: bytes) -> WireResponse:
        request_id = str(uuid.uuid4())
        try:
            body = self._call(context, scope, operation, raw)
            return self._respond(200, awsjson.encode(body), request_id)
        except ValidationFailed as exc:
            return self._error(WireError(self._validation_error, exc.message), request_id)
        except DomainError as exc:
            return self._error(to_wire(exc), request_id)
        except pydantic.ValidationError as exc:
            message = "1 validation error detected: " + _pydantic_message(exc)
            return self._error(WireError(self._validation_error, message), request_id)
        except Exception:
            log.exception("internal error in %s (request %s)", operation, request_id)
            failure = WireError("InternalFailure", "An internal error occurred.", 500)
            return self._error(failure, request_id)

    def _call(self, context: C, scope: Scope, operation: str, raw: bytes) -> Body:
        handler = self._handlers.get(operation)
        if handler is None:
            raise UnknownOperation(f"Operation {operation} is not supported by this service.")
        op_model = self.model.operation_model(operation)
        params = awsjson.parse_body(raw)
        validate(op_model.input_shape, params)
        result = handler(context, scope, params)
        conformed: Body = conform(op_model.output_shape, result) or {}
        return conformed

    def _error(self, error: WireError, request_id: str) -> WireResponse:
        body = awsjson.error_body(error, self._namespace)
        headers = {"x-amzn-ErrorType": error.code}
        query_error = self._query_errors.get(error.code)
        if query_error is not None:
            headers["x-amzn-query-error"] = query_error
        return self._respond(error.status, body, request_id, headers)

    def _respond(
        self, status: int, body: bytes, request_id: str, extra: dict[str, str] | None = None
    ) -> WireResponse:
        headers = {"Content-Type": self.content_type, "x-amzn-RequestId": request_id}
        return WireResponse(status, body, headers | (extra or {}))


def _query_error_codes(model: ServiceModel) -> dict[str, str]:
    """For services that moved from awsQuery to JSON (``awsQueryCompatible``): each error's
    old query code and fault, which clients read from the ``x-amzn-query-error`` header."""
    if "awsQueryCompatible" not in model.metadata:
        return {}
    codes = {}
    for shape in model.error_shapes:
        error = shape.metadata.get("error", {})
        fault = "Sender" if error.get("senderFault") else "Receiver"
        codes[shape.name] = f"{error.get('code', shape.name)};{fault}"
    return codes


def _pydantic_message(exc: pydantic.ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"Value at '{where}' failed to satisfy constraint: {first['msg']}"
