"""Cloud Control request records expire after 7 days (injected clock, in-memory store)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shadowserve.cloudcontrol import service
from shadowserve.cloudcontrol.worker import RequestWorker
from shadowserve.domain.arns import Scope
from shadowserve.domain.clock import FakeClock
from shadowserve.services.context import ControlPlane
from shadowserve.services.runtime import RecordingRuntime
from shadowserve.store.memory import MemoryStore

SCOPE = Scope("123456789012", "us-east-1")


def test_requests_finish_then_expire_after_seven_days() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    plane = ControlPlane(MemoryStore(), clock, RecordingRuntime())
    worker = RequestWorker(plane)
    request = service.create_resource(
        plane, SCOPE, "AWS::SageMaker::Model",
        json.dumps({"ModelName": "m", "PrimaryContainer": {"Image": "x"}}), "token-1",
    )  # fmt: skip
    for _ in range(3):
        worker.run_once()
    done = service.get_request(plane, SCOPE, request.request_token)
    assert done.operation_status == "SUCCESS"
    assert json.loads(done.progress_event()["ResourceModel"])["ModelName"] == "m"
    clock.advance(timedelta(days=6, hours=23))
    assert service.get_request(plane, SCOPE, request.request_token)
    clock.advance(timedelta(hours=2))
    with pytest.raises(service.CloudControlError) as excinfo:
        service.get_request(plane, SCOPE, request.request_token)
    assert excinfo.value.code == "RequestTokenNotFoundException"
    worker.run_once()
    assert service.list_requests(plane, SCOPE, None, None) == []
