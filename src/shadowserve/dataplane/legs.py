"""A leg is one call of a request to one variant; each finished leg becomes one event."""

from __future__ import annotations

from dataclasses import dataclass

from shadowserve.dataplane.model_client import ModelAnswer, ModelCall
from shadowserve.domain.arns import Scope
from shadowserve.domain.resources import DataCaptureConfig
from shadowserve.events.invocations import InvocationEvent, Role


@dataclass(frozen=True)
class Leg:
    scope: Scope
    endpoint_name: str
    variant_name: str
    role: Role
    experiment_name: str | None
    inference_id: str
    inference_id_from_caller: bool
    mirrored: bool = False
    instance_count: int = 1
    capture: DataCaptureConfig | None = None
    captured: bool = False


def leg_event(leg: Leg, call: ModelCall, answer: ModelAnswer, total_us: int) -> InvocationEvent:
    return InvocationEvent(
        scope=leg.scope,
        endpoint_name=leg.endpoint_name,
        variant_name=leg.variant_name,
        role=leg.role,
        experiment_name=leg.experiment_name,
        inference_id=leg.inference_id,
        inference_id_from_caller=leg.inference_id_from_caller,
        request_body=call.body,
        request_content_type=call.content_type,
        accept=call.accept,
        response_body=answer.body,
        response_content_type=answer.content_type,
        status=answer.status,
        model_latency_us=answer.latency_us,
        overhead_latency_us=max(0, total_us - answer.latency_us),
        error_kind=answer.error_kind,
        mirrored=leg.mirrored,
        instance_count=leg.instance_count,
        capture=leg.capture,
        captured=leg.captured,
    )
