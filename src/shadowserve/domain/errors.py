"""Domain errors: what went wrong, in words for the caller. None carries an HTTP status:
each wire format's adapter maps them, in one table (protocol/errors.py for the AWS JSON and
query wires, protocol/runtime_api.py for SageMaker Runtime, http/api.py for the dashboard's
JSON)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a caller may see; the message is shown to the user as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """The request is well formed but asks for something impossible (AWS: ValidationException)."""


class ResourceNotFound(DomainError):
    """A named resource does not exist (AWS: ResourceNotFound)."""


class ResourceMissing(InvalidInput):
    """A resource that older SageMaker APIs report missing with a ValidationException.

    DescribeEndpoint and friends answer ``Could not find endpoint "arn…".`` as a
    ValidationException; boto3's ``endpoint_deleted`` waiter relies on that.
    """


class ResourceInUse(DomainError):
    """A name is taken, or the resource is busy with something else (AWS: ResourceInUse)."""


class Conflict(DomainError):
    """The resource's current status does not allow the call (AWS: ConflictException)."""


class ResourceLimitExceeded(DomainError):
    """A quota was reached (AWS: ResourceLimitExceeded)."""


class CodedError(DomainError):
    """An error that names the AWS error code it is answered with (where a service has many
    codes of its own: Cloud Control, CloudWatch, CloudWatch Logs, SigV4)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class StaleWrite(Exception):
    """Optimistic concurrency: the record changed since it was read. Internal, never shown."""


class StorageFull(DomainError):
    """The store could not write: its disk (or database) is full. Nothing was changed."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"The server could not store the change because its storage is full ({detail}). "
            "Nothing was changed; free space in the data directory and retry."
        )
