"""The one table that turns domain errors into AWS error codes and HTTP statuses."""

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


# Most specific classes first: the first isinstance match wins.
_TABLE: tuple[tuple[type[errors.DomainError], str, int], ...] = (
    (ValidationFailed, "ValidationException", 400),
    (SerializationFailed, "SerializationException", 400),
    (UnknownOperation, "UnknownOperationException", 400),
    (errors.InvalidInput, "ValidationException", 400),
    (errors.ResourceNotFound, "ResourceNotFound", 400),
    (errors.ResourceInUse, "ResourceInUse", 400),
    (errors.Conflict, "ConflictException", 400),
    (errors.ResourceLimitExceeded, "ResourceLimitExceeded", 400),
)


def to_wire(error: errors.DomainError) -> WireError:
    if isinstance(error, errors.CodedError):
        return WireError(error.code, error.message, error.status)
    for cls, code, status in _TABLE:
        if isinstance(error, cls):
            return WireError(code, error.message, status)
    return WireError("InternalFailure", error.message, 500)
