"""A consumer's thread outlives an event it cannot handle: the events after it are handled."""

from __future__ import annotations

import pytest

from shadowserve.domain.arns import Scope
from shadowserve.events.consumer import QueuedConsumer
from shadowserve.events.invocations import InvocationEvent, Role


class _Picky(QueuedConsumer):
    def __init__(self) -> None:
        super().__init__("picky", batch_seconds=0.01)
        self.handled: list[str] = []

    def handle(self, event: InvocationEvent) -> None:
        if event.inference_id == "bad":
            raise ValueError("cannot handle this one")
        self.handled.append(event.inference_id)


def _event(inference_id: str) -> InvocationEvent:
    return InvocationEvent(
        scope=Scope("123456789012", "us-east-1"), endpoint_name="ep", variant_name="v",
        role=Role.PRODUCTION, experiment_name=None, inference_id=inference_id,
        inference_id_from_caller=True, request_body=b"", request_content_type="text/csv",
        accept=None, response_body=b"", response_content_type=None, status=200,
        model_latency_us=1, overhead_latency_us=1, error_kind=None,
    )  # fmt: skip


def test_an_event_that_fails_does_not_stop_the_consumer(caplog: pytest.LogCaptureFixture) -> None:
    consumer = _Picky()
    consumer.start()
    for inference_id in ("a", "bad", "b"):
        consumer(_event(inference_id))
    consumer.stop()  # handles everything offered, then finishes
    assert consumer.handled == ["a", "b"]
    assert "picky: an event could not be handled" in caplog.text
