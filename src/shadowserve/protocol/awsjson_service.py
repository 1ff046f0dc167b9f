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
        # Services that moved from awsQuery to JSON still name errors by their old codes,
        # which clients read from a header.
        self._query_compatible = "awsQueryCompatible" in model.metadata

    def handle(self, context: C, scope: Scope, operation: str, raw: bytes) -> WireResponse:
        request_id = str(uuid.uuid4())
        try:
            body = self.call(context, scope, operation, awsjson.parse_body(raw))
            return self._respond(200, awsjson.encode(body), request_id)
        except Exception as exc:  # each becomes AWS's error shape; none escapes as a 500 page
            return self._error(self.wire_error(exc, operation, request_id), request_id)

    def serves(self, operation: str) -> bool:
        return operation in self._handlers

    def call(self, context: C, scope: Scope, operation: str, params: Body) -> Body:
        """Validate the parameters against the operation's input shape, run its handler and
        trim the result to its output shape (whatever wire the parameters came on)."""
        handler = self._handlers.get(operation)
        if handler is None:
            raise UnknownOperation(f"Operation {operation} is not supported by this service.")
        op_model = self.model.operation_model(operation)
        validate(op_model.input_shape, params)
        result = handler(context, scope, params)
        conformed: Body = conform(op_model.output_shape, result) or {}
        return conformed

    def wire_error(self, exc: Exception, operation: str, request_id: str) -> WireError:
        if isinstance(exc, ValidationFailed):
            return WireError(self._validation_error, exc.message)
        if isinstance(exc, DomainError):
            return to_wire(exc)
        if isinstance(exc, pydantic.ValidationError):
            message = "1 validation error detected: " + _pydantic_message(exc)
            return WireError(self._validation_error, message)
        log.exception("internal error in %s (request %s)", operation, request_id, exc_info=exc)
        return WireError("InternalFailure", "An internal error occurred.", 500)

    def failure(self, exc: Exception) -> WireResponse:
        """Any error (a refused signature, a body too large) in this service's own shape."""
        request_id = str(uuid.uuid4())
        return self._error(self.wire_error(exc, "-", request_id), request_id)

    def query_error(self, code: str) -> str:
        """An error's code on the awsQuery wire (``InvalidParameterValueException`` is
        ``InvalidParameterValue`` there)."""
        return self._query_errors.get(code, code).partition(";")[0]

    def _error(self, error: WireError, request_id: str) -> WireResponse:
        body = awsjson.error_body(error, self._namespace)
        headers = {"x-amzn-ErrorType": error.code}
        query_error = self._query_errors.get(error.code)
        if self._query_compatible and query_error is not None:
            headers["x-amzn-query-error"] = query_error
        return self._respond(error.status, body, request_id, headers)

    def _respond(
        self, status: int, body: bytes, request_id: str, extra: dict[str, str] | None = None
    ) -> WireResponse:
        headers = {"Content-Type": self.content_type, "x-amzn-RequestId": request_id}
        return WireResponse(status, body, headers | (extra or {}))


def _query_error_codes(model: ServiceModel) -> dict[str, str]:
    """Each modeled error's awsQuery code and fault, as ``Code;Fault``."""
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
