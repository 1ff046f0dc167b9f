"""Invocation events: one per leg (production or shadow) of every request.

Capture, metrics and comparison subscribe; publishing never blocks the request path, so a
subscriber must only hand the event on (e.g. put it on its own bounded queue).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from shadowserve.domain.arns import Scope
from shadowserve.domain.resources import DataCaptureConfig
from shadowserve.events.ids import random_uuid

log = logging.getLogger(__name__)


class Role(StrEnum):
    PRODUCTION = "production"
    SHADOW = "shadow"


class ErrorKind(StrEnum):
    MODEL_ERROR = "model_error"  # the model answered non-2xx
    TIMEOUT = "timeout"
    CONNECTION = "connection"  # the worker closed the connection or was unreachable
    NO_INSTANCE = "no_instance"  # no healthy worker to send to
    DROPPED = "dropped"  # shadow only: the copy was not sent (bound reached)


@dataclass(frozen=True)
class RepeatAnswer:
    """A noise probe: the shadow's second answer to the same request. It is compared with the
    first (what differs between them is noise), and neither captured nor counted as traffic."""

    body: bytes
    content_type: str | None
    succeeded: bool


@dataclass(frozen=True)
class InvocationEvent:
    scope: Scope
    endpoint_name: str
    variant_name: str
    role: Role
    experiment_name: str | None
    inference_id: str
    inference_id_from_caller: bool
    request_body: bytes
    request_content_type: str
    accept: str | None
    response_body: bytes
    response_content_type: str | None
    status: int  # the model's HTTP status; 0 when it never answered
    model_latency_us: int
    overhead_latency_us: int
    error_kind: ErrorKind | None
    # Production legs: whether a copy of this request was chosen for the shadow.
    mirrored: bool = False
    instance_count: int = 1  # of the variant that answered, for InvocationsPerInstance
    # The data capture config in force, and whether this request was sampled for capture
    # (decided once per request, so both legs of a request are captured or neither).
    capture: DataCaptureConfig | None = None
    captured: bool = False
    # Shadow legs chosen as noise probes: the second answer to the same request.
    repeat: RepeatAnswer | None = None
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    event_id: str = field(default_factory=random_uuid)

    @property
    def succeeded(self) -> bool:
        return self.error_kind is None and 200 <= self.status < 300


Subscriber = Callable[[InvocationEvent], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: tuple[Subscriber, ...] = ()

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers = (*self._subscribers, subscriber)

    def publish(self, event: InvocationEvent) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:  # A broken consumer must not break a request.
                log.exception("event subscriber failed")
