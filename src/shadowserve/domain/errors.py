"""Domain errors. Protocol adapters map each class to an AWS error code in one table."""

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
    """An error that already knows the AWS error code it is answered with (used where a
    service has many codes of its own, like Cloud Control)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class StaleWrite(Exception):
    """Optimistic concurrency: the record changed since it was read. Internal, never shown."""


class StorageFull(CodedError):
    """The store could not write: its disk (or database) is full. Nothing was changed."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            "ServiceUnavailable",
            f"The server could not store the change because its storage is full ({detail}). "
            "Nothing was changed; free space in the data directory and retry.",
            503,
        )
