"""Resource requests: what CreateResource / UpdateResource / DeleteResource asked for, and
how far the background worker has got. Stored, so they survive restarts; kept for 7 days."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shadowserve.domain.shapes import Shape

KIND = "cloudcontrol-request"
# The work queue of unfinished requests, and the documents that keep a ClientToken unique.
QUEUE = "cloudcontrol"
TOKEN_KIND = "cloudcontrol-token"
RETENTION = timedelta(days=7)


class Operation(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


class Status(StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCEL_IN_PROGRESS = "CANCEL_IN_PROGRESS"
    CANCEL_COMPLETE = "CANCEL_COMPLETE"


FINISHED = frozenset({Status.SUCCESS, Status.FAILED, Status.CANCEL_COMPLETE})


class Phase(StrEnum):
    ACT = "act"  # the handler's API calls are still to be made
    STABILIZE = "stabilize"  # made; waiting for the resource to settle


class ResourceRequest(Shape):
    request_token: str
    operation: Operation
    type_name: str
    operation_status: Status
    event_time: datetime
    created: datetime
    fingerprint: str
    client_token: str | None = None
    identifier: str | None = None
    status_message: str | None = None
    error_code: str | None = None
    # CREATE/UPDATE: the desired model; after SUCCESS, the resource as read back.
    resource_model: dict[str, Any] | None = None
    previous_model: dict[str, Any] | None = None
    phase: Phase = Phase.ACT
    # Times the ACT step was started: above one, an earlier run may have done the work.
    attempts: int = 0

    def finish(self, status: Status, now: datetime, code: str | None = None,
               message: str | None = None) -> None:  # fmt: skip
        self.operation_status = status
        self.error_code = code
        self.status_message = message
        self.event_time = now

    def progress_event(self) -> dict[str, Any]:
        """The wire ProgressEvent (Cloud Control's member names)."""
        event: dict[str, Any] = {
            "TypeName": self.type_name,
            "RequestToken": self.request_token,
            "Operation": self.operation.value,
            "OperationStatus": self.operation_status.value,
            "EventTime": self.event_time,
        }
        if self.identifier:
            event["Identifier"] = self.identifier
        if self.operation_status == Status.SUCCESS and self.resource_model is not None:
            event["ResourceModel"] = json.dumps(self.resource_model)
        if self.status_message:
            event["StatusMessage"] = self.status_message
        if self.error_code:
            event["ErrorCode"] = self.error_code
        if self.operation_status not in FINISHED:
            event["RetryAfter"] = self.event_time + timedelta(seconds=1)
        return event


def fingerprint(*parts: Any) -> str:
    """What makes two requests "the same" for ClientToken idempotency."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
