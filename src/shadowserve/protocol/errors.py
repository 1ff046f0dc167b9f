"""The one table that turns domain errors into AWS error codes and HTTP statuses, for the
AWS JSON and query wires (SageMaker, Cloud Control, CloudWatch, CloudWatch Logs, STS)."""

from __future__ import annotations

from dataclasses import dataclass

from shadowserve.domain import errors
from shadowserve.protocol.validate import SerializationFailed, ValidationFailed


@dataclass(frozen=True)
class WireError:
    code: str
    message: str
    status: int = 400


class UnknownOperation(errors.DomainError):
    """X-Amz-Target names an operation we do not serve."""


class RequestTooLarge(errors.InvalidInput):
    """The request body is over what the operation accepts (HTTP 413)."""


# Most specific classes first: the first isinstance match wins.
_TABLE: tuple[tuple[type[errors.DomainError], str, int], ...] = (
    (RequestTooLarge, "ValidationException", 413),
    (ValidationFailed, "ValidationException", 400),
    (SerializationFailed, "SerializationException", 400),
    (UnknownOperation, "UnknownOperationException", 400),
    (errors.InvalidInput, "ValidationException", 400),
    (errors.ResourceNotFound, "ResourceNotFound", 400),
    (errors.ResourceInUse, "ResourceInUse", 400),
    (errors.Conflict, "ConflictException", 400),
    (errors.ResourceLimitExceeded, "ResourceLimitExceeded", 400),
    (errors.StorageFull, "ServiceUnavailable", 503),
)
# Statuses of the codes errors name themselves (CodedError); any other is a client's 400.
_CODE_STATUS = {
    "MissingAuthenticationTokenException": 403,
    "ServiceUnavailable": 503,
    "InternalFailure": 500,
}


def status_of(code: str) -> int:
    return _CODE_STATUS.get(code, 400)


def to_wire(error: errors.DomainError) -> WireError:
    if isinstance(error, errors.CodedError):
        return WireError(error.code, error.message, status_of(error.code))
    for cls, code, status in _TABLE:
        if isinstance(error, cls):
            return WireError(code, error.message, status)
    return WireError("InternalFailure", error.message, 500)
