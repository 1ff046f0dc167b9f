"""What every resource type's handler provides, and what they share: CloudFormation's
error codes and messages, property conversion, tag updates."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shadowserve.domain import errors
from shadowserve.domain.arns import Scope
from shadowserve.domain.shapes import Shape
from shadowserve.services import tags as tag_service
from shadowserve.services.context import ControlPlane


class HandlerFailure(Exception):
    """A handler could not do what was asked; becomes a FAILED request."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Settled:
    """A stabilization check: done, or still waiting."""

    done: bool


DONE, WAIT = Settled(True), Settled(False)


class ResourceHandler(Protocol):
    type_name: str
    # The property naming the resource; generated when a CREATE leaves it out.
    name_property: str

    def read(self, plane: ControlPlane, scope: Scope, identifier: str) -> dict[str, Any] | None:
        """Every readable property, or None when the resource does not exist."""
        ...

    def list(self, plane: ControlPlane, scope: Scope) -> list[dict[str, Any]]: ...

    def create(self, plane: ControlPlane, scope: Scope, model: dict[str, Any]) -> str:
        """Make the API calls; returns the new resource's identifier."""
        ...

    def update(
        self,
        plane: ControlPlane,
        scope: Scope,
        identifier: str,
        current: dict[str, Any],
        desired: dict[str, Any],
    ) -> None: ...

    def delete(self, plane: ControlPlane, scope: Scope, identifier: str) -> None: ...

    def settled(
        self, plane: ControlPlane, scope: Scope, identifier: str, operation: str
    ) -> Settled: ...


def not_found(type_name: str, identifier: str) -> HandlerFailure:
    return HandlerFailure(
        "NotFound", f"Resource of type '{type_name}' with identifier '{identifier}' was not found."
    )


def failure_from(error: errors.DomainError, type_name: str, identifier: str) -> HandlerFailure:
    """SageMaker errors the way AWS's CloudFormation handlers translate them."""
    if isinstance(error, errors.ResourceInUse):
        return HandlerFailure(
            "AlreadyExists",
            f"Resource of type '{type_name}' with identifier '{identifier}' already exists.",
        )
    if isinstance(error, errors.ResourceMissing | errors.ResourceNotFound):
        return not_found(type_name, identifier)
    if isinstance(error, errors.InvalidInput):
        return HandlerFailure("InvalidRequest", f"Invalid request provided: {error.message}")
    if isinstance(error, errors.ResourceLimitExceeded):
        return HandlerFailure(
            "ServiceLimitExceeded",
            f"Limit exceeded for resource of type '{type_name}'. Reason: {error.message}",
        )
    if isinstance(error, errors.Conflict):
        return HandlerFailure(
            "ResourceConflict",
            f"Resource of type '{type_name}' with identifier '{identifier}' has a conflict. "
            f"Reason: {error.message}.",
        )
    return HandlerFailure(
        "GeneralServiceException",
        f"Error occurred during operation 'Failure reason: {error.message}'.",
    )


def generated_name(prefix: str) -> str:
    """Names CloudFormation-style tools leave out are generated, as CloudFormation does."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def properties(shape: Shape, allowed: set[str]) -> dict[str, Any]:
    """A resource's wire form, limited to its schema's properties, timestamps as ISO-8601."""
    dumped = shape.model_dump(mode="json", exclude_none=True)
    return {key: _iso(value) for key, value in dumped.items() if key in allowed}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def tags_of(plane: ControlPlane, scope: Scope, arn: str) -> list[dict[str, str]]:
    page = tag_service.list_tags(plane, scope, arn, tag_service.MAX_TAGS, None)
    return [{"Key": tag.key, "Value": tag.value} for tag in page.items]


def update_tags(
    plane: ControlPlane,
    scope: Scope,
    arn: str,
    current: list[dict[str, str]] | None,
    desired: list[dict[str, str]] | None,
) -> None:
    before = {t["Key"]: t.get("Value", "") for t in current or []}
    after = {t["Key"]: t.get("Value", "") for t in desired or []}
    removed = [key for key in before if key not in after]
    if removed:
        tag_service.delete_tags(plane, scope, arn, removed)
    changed = [tag_service.Tag(key=k, value=v) for k, v in after.items() if before.get(k) != v]
    if changed:
        tag_service.add_tags(plane, scope, arn, changed)
