"""Cloud Control's operations over our resource types.

Create, Update and Delete validate at once (schema, patch, createOnly properties), record a
request and answer IN_PROGRESS; the worker (``advance``) makes the calls and waits for the
resource to settle, so GetResourceRequestStatus later says SUCCESS or FAILED.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jsonpatch
import jsonpointer

from shadowserve.cloudcontrol.experiment_type import InferenceExperimentType
from shadowserve.cloudcontrol.handler import (
    HandlerFailure,
    ResourceHandler,
    generated_name,
    not_found,
)
from shadowserve.cloudcontrol.requests import (
    FINISHED,
    KIND,
    QUEUE,
    RETENTION,
    TOKEN_KIND,
    Operation,
    Phase,
    ResourceRequest,
    Status,
    fingerprint,
)
from shadowserve.cloudcontrol.sagemaker_types import EndpointConfigType, EndpointType, ModelType
from shadowserve.cloudcontrol.schemas import ResourceSchema, schema_for
from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import CodedError, InvalidInput, StaleWrite
from shadowserve.services.context import ControlPlane
from shadowserve.services.listing import Page, page_of
from shadowserve.store.base import Document, DuplicateKeyError

HANDLERS: dict[str, ResourceHandler] = {
    handler.type_name: handler
    for handler in (ModelType(), EndpointConfigType(), EndpointType(), InferenceExperimentType())
}


class CloudControlError(CodedError):
    """An error Cloud Control answers synchronously, with its own error code."""


@dataclass(frozen=True)
class ResourceType:
    schema: ResourceSchema
    handler: ResourceHandler


def resource_type(type_name: str) -> ResourceType:
    schema = schema_for(type_name)
    handler = HANDLERS.get(type_name)
    if schema is None or handler is None:
        raise CloudControlError("TypeNotFoundException", f"The type '{type_name}' cannot be found.")
    return ResourceType(schema, handler)


def create_resource(plane: ControlPlane, scope: Scope, type_name: str, desired_state: str,
                    client_token: str | None) -> ResourceRequest:  # fmt: skip
    kind = resource_type(type_name)
    model = _parse_model(desired_state)
    _validate(kind.schema, model)
    print_ = fingerprint("CREATE", type_name, model)  # the caller's request, before naming
    name = kind.handler.name_property
    if name and name not in model:
        # Chosen once, as the request is recorded: a re-run of the work after a crash makes
        # the same name, so it finds what the first run made instead of making a second.
        model = {**model, name: generated_name(type_name.rsplit("::", 1)[-1])}
    identifier = model.get(kind.schema.primary_identifier)
    return _record(plane, scope, Operation.CREATE, type_name, identifier, client_token,
                   model, None, print_)  # fmt: skip


def update_resource(plane: ControlPlane, scope: Scope, type_name: str, identifier: str,
                    patch_document: str, client_token: str | None) -> ResourceRequest:  # fmt: skip
    kind = resource_type(type_name)
    operations = _parse_patch(patch_document)
    fixed = sorted(_changed_properties(operations) & kind.schema.create_only)
    if fixed:
        paths = ", ".join(f"/properties/{name}" for name in fixed)
        raise CloudControlError(
            "NotUpdatableException",
            f"Invalid patch update: createOnlyProperties [{paths}] cannot be updated",
        )
    current = _read(plane, scope, kind, identifier)
    try:
        desired = jsonpatch.apply_patch(current, operations)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise InvalidInput(f"Invalid patch document: {exc}") from exc
    for name in kind.schema.read_only:
        desired.pop(name, None)
    _validate(kind.schema, desired)
    return _record(plane, scope, Operation.UPDATE, type_name, identifier, client_token,
                   desired, current, fingerprint("UPDATE", type_name, identifier,
                                                 operations))  # fmt: skip


def delete_resource(plane: ControlPlane, scope: Scope, type_name: str, identifier: str,
                    client_token: str | None) -> ResourceRequest:  # fmt: skip
    resource_type(type_name)
    return _record(plane, scope, Operation.DELETE, type_name, identifier, client_token,
                   None, None, fingerprint("DELETE", type_name, identifier))  # fmt: skip


def get_resource(plane: ControlPlane, scope: Scope, type_name: str,
                 identifier: str) -> dict[str, Any]:  # fmt: skip
    kind = resource_type(type_name)
    return _readable(kind, _read(plane, scope, kind, identifier))


def list_resources(plane: ControlPlane, scope: Scope, type_name: str, max_results: int | None,
                   next_token: str | None) -> tuple[str, Page[dict[str, Any]]]:  # fmt: skip
    kind = resource_type(type_name)
    found = [_readable(kind, model) for model in kind.handler.list(plane, scope)]
    page = page_of(found, max_results or 20, next_token)
    return kind.schema.primary_identifier, page


def get_request(plane: ControlPlane, scope: Scope, token: str) -> ResourceRequest:
    with plane.repository(scope) as repo:
        document = repo.tx.get(KIND, scope, token)
    request = None if document is None else ResourceRequest.model_validate(document.body)
    if request is None or _expired(request, plane.clock.now()):
        raise CloudControlError(
            "RequestTokenNotFoundException", f"Request with token {token} was not found"
        )
    return request


def list_requests(plane: ControlPlane, scope: Scope, operations: list[str] | None,
                  statuses: list[str] | None) -> list[ResourceRequest]:  # fmt: skip
    now = plane.clock.now()
    with plane.repository(scope) as repo:
        documents = repo.tx.find_all(KIND, scope)
    found = [ResourceRequest.model_validate(d.body) for d in documents]
    return sorted(
        (r for r in found if not _expired(r, now)
         and (not operations or r.operation in operations)
         and (not statuses or r.operation_status in statuses)),
        key=lambda r: r.created, reverse=True,
    )  # fmt: skip


def cancel_request(plane: ControlPlane, scope: Scope, token: str) -> ResourceRequest:
    def work(repo: Any) -> ResourceRequest:
        document = repo.tx.get(KIND, scope, token)
        if document is None:
            raise CloudControlError(
                "RequestTokenNotFoundException", f"Request with token {token} was not found"
            )
        request = ResourceRequest.model_validate(document.body)
        if request.operation_status in FINISHED:
            raise InvalidInput(
                f"Request {token} is already in status {request.operation_status.value}"
            )
        request.finish(Status.CANCEL_COMPLETE, plane.clock.now())
        document.body = request.model_dump(mode="json")
        repo.tx.update(document)
        repo.tx.dequeue(QUEUE, scope, token)
        return request

    return plane.write(scope, work)


def _record(plane: ControlPlane, scope: Scope, operation: Operation, type_name: str,
            identifier: str | None, client_token: str | None, model: dict[str, Any] | None,
            previous: dict[str, Any] | None, print_: str) -> ResourceRequest:  # fmt: skip
    now = plane.clock.now()
    request = ResourceRequest(
        request_token=str(uuid.uuid4()), operation=operation, type_name=type_name,
        operation_status=Status.IN_PROGRESS, event_time=now, created=now, fingerprint=print_,
        client_token=client_token, identifier=identifier, resource_model=model,
        previous_model=previous,
    )  # fmt: skip

    def work(repo: Any) -> ResourceRequest:
        if client_token:
            earlier = _claim_client_token(repo, scope, client_token, request, now)
            if earlier is not None:
                if earlier.fingerprint != print_:
                    raise CloudControlError(
                        "ClientTokenConflictException",
                        f"ClientToken {client_token} is already associated with an "
                        f"existing operation with RequestToken {earlier.request_token}",
                    )
                return earlier  # the same request again: idempotent
        try:
            repo.tx.insert(
                Document(KIND, scope, request.request_token, request.model_dump(mode="json"))
            )
        except DuplicateKeyError as exc:  # pragma: no cover - uuid4 collision
            raise CloudControlError("GeneralServiceException", "Try again.") from exc
        repo.tx.enqueue(QUEUE, scope, request.request_token)
        return request

    recorded = plane.write(scope, work)
    plane.cloudcontrol_queued.set()  # after the commit: the worker's claim then finds it
    return recorded


def _claim_client_token(repo: Any, scope: Scope, token: str, request: ResourceRequest,
                        now: datetime) -> ResourceRequest | None:  # fmt: skip
    """The live request a ClientToken already names, or None after taking the token for
    ``request``. The token's row is unique per account and region in the database, so of
    two gateways taking one token at once, one waits and then finds the other's request."""
    mine = Document(TOKEN_KIND, scope, token, {"request_token": request.request_token})
    try:
        repo.tx.insert(mine)
        return None
    except DuplicateKeyError:
        pass
    taken = repo.tx.get(TOKEN_KIND, scope, token)
    earlier = repo.tx.get(KIND, scope, taken.body["request_token"]) if taken else None
    if earlier is not None:
        found = ResourceRequest.model_validate(earlier.body)
        if not _expired(found, now):
            return found
    if taken is not None:  # the request it named has expired: the token is free again
        taken.body = mine.body
        repo.tx.update(taken)
    return None


def _read(plane: ControlPlane, scope: Scope, kind: ResourceType,
          identifier: str) -> dict[str, Any]:  # fmt: skip
    found = kind.handler.read(plane, scope, identifier)
    if found is None:
        type_name = kind.schema.type_name
        raise CloudControlError(
            "ResourceNotFoundException",
            f"{type_name} Handler returned status FAILED: Resource of type '{type_name}' with "
            f"identifier '{identifier}' was not found. (HandlerErrorCode: NotFound, "
            f"RequestToken: {uuid.uuid4()})",
        )
    return found


def _readable(kind: ResourceType, model: dict[str, Any]) -> dict[str, Any]:
    """writeOnly properties are never returned by reads."""
    return {k: v for k, v in model.items() if k not in kind.schema.write_only}


def _parse_model(text: str) -> dict[str, Any]:
    try:
        model = json.loads(text)
    except ValueError as exc:
        raise InvalidInput("Model validation failed (#: the model is not valid JSON)") from exc
    if not isinstance(model, dict):
        raise InvalidInput(f"Model validation failed (#: expected type: JSONObject, found: "
                           f"{type(model).__name__})")  # fmt: skip
    return model


def _parse_patch(text: str) -> list[dict[str, Any]]:
    try:
        operations = json.loads(text)
    except ValueError as exc:
        raise InvalidInput("Invalid patch document: not valid JSON") from exc
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        raise InvalidInput("Invalid patch document: expected a JSON array of operations")
    return operations


def _changed_properties(operations: list[dict[str, Any]]) -> set[str]:
    """Top-level properties a patch changes (``test`` reads only; ``move`` changes both ends)."""
    pointers = [op.get("path") for op in operations if op.get("op") != "test"]
    pointers += [op.get("from") for op in operations if op.get("op") == "move"]
    return {str(p).split("/")[1] for p in pointers if isinstance(p, str) and p.count("/")}


def _validate(schema: ResourceSchema, model: dict[str, Any]) -> None:
    problems = schema.problems(model)
    if problems:
        raise InvalidInput(f"Model validation failed ({'; '.join(problems)})")


def _expired(request: ResourceRequest, now: datetime) -> bool:
    return now - request.created > RETENTION


def advance(plane: ControlPlane, scope: Scope, document: Document) -> None:
    """One step of an unfinished request (the worker calls this until it finishes)."""
    request = ResourceRequest.model_validate(document.body)
    if request.operation_status in FINISHED:
        return
    kind = resource_type(request.type_name)
    if request.phase == Phase.ACT:
        # Counted before acting: a run that finds its attempt count above one knows an
        # earlier run (on a gateway that died) may have done the work already.
        request.attempts += 1
        document = _save(plane, scope, document, request)
    try:
        _step(plane, scope, kind, request)
    except HandlerFailure as failure:
        if not _made_by_an_earlier_attempt(plane, scope, kind, request, failure):
            request.finish(Status.FAILED, plane.clock.now(), failure.code, failure.message)
    _save(plane, scope, document, request)


def _made_by_an_earlier_attempt(plane: ControlPlane, scope: Scope, kind: ResourceType,
                                request: ResourceRequest,
                                failure: HandlerFailure) -> bool:  # fmt: skip
    """A CREATE run again after a crash finds the resource its first run made (the name was
    chosen when the request was recorded): that is this request's resource, not a clash."""
    name = (request.resource_model or {}).get(kind.handler.name_property)
    if (request.operation != Operation.CREATE or request.attempts < 2
            or failure.code != "AlreadyExists" or not name):  # fmt: skip
        return False
    found = kind.handler.read(plane, scope, str(name))
    if found is None:
        return False
    request.identifier = str(found.get(kind.schema.primary_identifier, name))
    request.phase = Phase.STABILIZE
    return True


def _step(plane: ControlPlane, scope: Scope, kind: ResourceType,
          request: ResourceRequest) -> None:  # fmt: skip
    handler = kind.handler
    if request.phase == Phase.ACT:
        if request.operation == Operation.CREATE:
            request.identifier = handler.create(plane, scope, request.resource_model or {})
        elif request.operation == Operation.UPDATE:
            identifier = request.identifier or ""
            handler.update(plane, scope, identifier, request.previous_model or {},
                           request.resource_model or {})  # fmt: skip
        else:
            if handler.read(plane, scope, request.identifier or "") is None:
                raise not_found(kind.schema.type_name, request.identifier or "")
            handler.delete(plane, scope, request.identifier or "")
        request.phase = Phase.STABILIZE
        request.event_time = plane.clock.now()
        return
    identifier = request.identifier or ""
    if handler.settled(plane, scope, identifier, request.operation.value).done:
        model = None
        if request.operation != Operation.DELETE:
            read = handler.read(plane, scope, identifier)
            model = _readable(kind, read) if read is not None else None
        request.resource_model = model
        request.finish(Status.SUCCESS, plane.clock.now())


def _save(plane: ControlPlane, scope: Scope, document: Document,
          request: ResourceRequest) -> Document:  # fmt: skip
    """Write the request over the version ``document`` was read at (StaleWrite if another
    worker wrote it since); a finished request leaves the work queue."""

    def work(repo: Any) -> Document:
        current: Document | None = repo.tx.get(KIND, scope, document.name_key)
        if current is None:
            repo.tx.dequeue(QUEUE, scope, document.name_key)
            return document
        stored = ResourceRequest.model_validate(current.body)
        if stored.operation_status == Status.CANCEL_COMPLETE:
            repo.tx.dequeue(QUEUE, scope, document.name_key)
            return current  # cancelled meanwhile: leave it so
        if current.version != document.version:
            raise StaleWrite(document.name_key)
        current.body = request.model_dump(mode="json")
        repo.tx.update(current)
        if request.operation_status in FINISHED:
            repo.tx.dequeue(QUEUE, scope, document.name_key)
        return current

    with plane.repository(scope) as repo:  # StaleWrite reaches the worker, which moves on
        return work(repo)


def purge_expired(plane: ControlPlane, scope: Scope, documents: list[Document]) -> None:
    now = plane.clock.now()
    for document in documents:
        request = ResourceRequest.model_validate(document.body)
        if _expired(request, now):
            with plane.repository(scope) as repo:
                current = repo.tx.get(KIND, scope, document.name_key)
                if current is not None:
                    repo.tx.delete(current)
                token = repo.tx.get(TOKEN_KIND, scope, request.client_token or "")
                if token is not None and token.body["request_token"] == request.request_token:
                    repo.tx.delete(token)
