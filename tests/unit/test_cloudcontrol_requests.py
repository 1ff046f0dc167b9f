"""Cloud Control's rules on the in-memory fakes, the request worker turned by hand: what is
refused before a request is recorded, what fails while working, ClientToken idempotency,
and records expiring after 7 days. The wire keeps its end-to-end tests in
tests/integration/test_cloudcontrol.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shadowserve.cloudcontrol import service
from shadowserve.cloudcontrol.worker import RequestWorker
from shadowserve.domain.arns import Scope
from shadowserve.domain.clock import FakeClock
from shadowserve.domain.errors import CodedError, InvalidInput
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


class Driven:
    """A control plane on the fakes with the request worker turned by hand."""

    def __init__(self) -> None:
        self.plane = ControlPlane(
            MemoryStore(), FakeClock(datetime(2026, 1, 1, tzinfo=UTC)), RecordingRuntime()
        )
        self.worker = RequestWorker(self.plane)

    def create(
        self, type_name: str, desired: dict[str, object], token: str | None = None
    ) -> service.ResourceRequest:
        request = service.create_resource(self.plane, SCOPE, type_name, json.dumps(desired), token)
        return self.settle(request.request_token)

    def settle(self, token: str) -> service.ResourceRequest:
        for _ in range(5):
            self.worker.run_once()
        return service.get_request(self.plane, SCOPE, token)


MODEL = "AWS::SageMaker::Model"
EXPERIMENT = "AWS::SageMaker::InferenceExperiment"
NAMELESS = json.dumps({"PrimaryContainer": {"Image": "x"}})  # a Model whose name is generated


def _refused(call: Callable[[], object]) -> tuple[str, str]:
    with pytest.raises(CodedError) as excinfo:
        call()
    return excinfo.value.code, excinfo.value.message


def test_what_is_refused_before_a_request_is_recorded() -> None:
    world = Driven()
    plane = world.plane
    assert _refused(
        lambda: service.create_resource(plane, SCOPE, "AWS::Nope::Thing", "{}", None)
    ) == ("TypeNotFoundException", "The type 'AWS::Nope::Thing' cannot be found.")
    with pytest.raises(InvalidInput) as invalid:
        service.create_resource(
            plane, SCOPE, EXPERIMENT, json.dumps({"Name": "x", "Bogus": 1}), None
        )
    assert invalid.value.message.startswith("Model validation failed (")
    assert "#: extraneous key [Bogus] is not permitted" in invalid.value.message
    assert "#: required key [Type] not found" in invalid.value.message
    with pytest.raises(InvalidInput, match="#/ModelName: expected type: String, found: Boolean"):
        service.create_resource(plane, SCOPE, MODEL, json.dumps({"ModelName": True}), None)
    rename = json.dumps([{"op": "replace", "path": "/Name", "value": "other"}])
    assert _refused(
        lambda: service.update_resource(plane, SCOPE, EXPERIMENT, "x", rename, None)
    ) == (
        "NotUpdatableException",
        "Invalid patch update: createOnlyProperties [/properties/Name] cannot be updated",
    )
    describe = json.dumps([{"op": "replace", "path": "/Description", "value": "d"}])
    for call in (
        lambda: service.get_resource(plane, SCOPE, EXPERIMENT, "missing-x"),
        lambda: service.update_resource(plane, SCOPE, EXPERIMENT, "missing-x", describe, None),
    ):
        code, message = _refused(call)
        assert code == "ResourceNotFoundException" and "HandlerErrorCode: NotFound" in message
    assert _refused(lambda: service.get_request(plane, SCOPE, "nope"))[0] == (
        "RequestTokenNotFoundException"
    )
    assert service.list_requests(plane, SCOPE, None, None) == []


def test_a_failed_patch_test_changes_nothing() -> None:
    world = Driven()
    done = world.create(
        MODEL,
        {
            "ModelName": "m",
            "PrimaryContainer": {"Image": "x"},
            "Tags": [{"Key": "stack", "Value": "1"}],
        },
    )
    assert done.operation_status == "SUCCESS"
    patch = json.dumps(
        [
            {"op": "add", "path": "/Tags/-", "value": {"Key": "new", "Value": "1"}},
            {"op": "test", "path": "/ModelName", "value": "someone-else"},
        ]
    )
    with pytest.raises(InvalidInput, match="Invalid patch document"):
        service.update_resource(world.plane, SCOPE, MODEL, "m", patch, None)
    model = service.get_resource(world.plane, SCOPE, MODEL, "m")
    assert model["Tags"] == [{"Key": "stack", "Value": "1"}]


def test_failures_found_while_working_end_the_request_failed() -> None:
    world = Driven()
    world.create(MODEL, {"ModelName": "m", "PrimaryContainer": {"Image": "x"}})
    again = world.create(MODEL, {"ModelName": "m", "PrimaryContainer": {"Image": "x"}})
    assert (again.operation_status, again.error_code) == ("FAILED", "AlreadyExists")
    assert again.status_message == (
        "Resource of type 'AWS::SageMaker::Model' with identifier 'm' already exists."
    )
    gone = service.delete_resource(world.plane, SCOPE, EXPERIMENT, "never-was", None)
    assert gone.operation_status == "IN_PROGRESS"  # answered before the work is done
    failed = world.settle(gone.request_token)
    assert (failed.operation_status, failed.error_code) == ("FAILED", "NotFound")
    infrastructure = {
        "InfrastructureType": "RealTimeInference",
        "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    bad = world.create(
        EXPERIMENT,
        {
            "Name": "cc-bad",
            "Type": "ShadowMode",
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "EndpointName": "no-such-endpoint",
            "ModelVariants": [
                {"ModelName": "m", "VariantName": v, "InfrastructureConfig": infrastructure}
                for v in ("A", "B")
            ],
        },
    )
    assert bad.operation_status == "FAILED"
    assert bad.error_code in ("InvalidRequest", "NotFound")


def test_a_client_token_names_one_request_and_a_finished_one_cannot_be_cancelled() -> None:
    world = Driven()
    desired = json.dumps({"ModelName": "idem", "PrimaryContainer": {"Image": "x"}})
    first = service.create_resource(world.plane, SCOPE, MODEL, desired, "token-1")
    again = service.create_resource(world.plane, SCOPE, MODEL, desired, "token-1")
    assert again.request_token == first.request_token
    other = json.dumps({"ModelName": "other", "PrimaryContainer": {"Image": "x"}})
    code, message = _refused(
        lambda: service.create_resource(world.plane, SCOPE, MODEL, other, "token-1")
    )
    assert code == "ClientTokenConflictException" and first.request_token in message
    done = world.settle(first.request_token)
    assert done.operation_status == "SUCCESS"
    assert len(service.list_requests(world.plane, SCOPE, ["CREATE"], ["SUCCESS"])) == 1
    assert service.list_requests(world.plane, SCOPE, ["DELETE"], None) == []
    with pytest.raises(
        InvalidInput, match=f"Request {done.request_token} is already in status SUCCESS"
    ):
        service.cancel_request(world.plane, SCOPE, done.request_token)


def test_a_generated_name_is_chosen_once_when_the_request_is_recorded() -> None:
    world = Driven()
    request = service.create_resource(world.plane, SCOPE, MODEL, NAMELESS, "t-1")
    name = (request.resource_model or {})["ModelName"]
    assert name.startswith("Model-")
    again = service.create_resource(world.plane, SCOPE, MODEL, NAMELESS, "t-1")
    assert again.request_token == request.request_token  # same request: the name is no part
    done = world.settle(request.request_token)
    assert json.loads(done.progress_event()["ResourceModel"])["ModelName"] == name


def test_a_create_run_again_after_a_crash_finds_its_resource_instead_of_making_another() -> None:
    world = Driven()
    request = service.create_resource(world.plane, SCOPE, MODEL, NAMELESS, None)
    # A gateway claimed it, counted its attempt, made the model and died before saving.
    with world.plane.store.transaction() as tx:
        document = tx.get("cloudcontrol-request", SCOPE, request.request_token)
        assert document is not None
        document.body["Attempts"] = 1
        tx.update(document)
    made = service.HANDLERS[MODEL].create(world.plane, SCOPE, request.resource_model or {})
    done = world.settle(request.request_token)
    assert (done.operation_status, done.identifier) == ("SUCCESS", made)
    listed = service.list_resources(world.plane, SCOPE, MODEL, None, None)[1].items
    assert len(listed) == 1


def test_a_request_is_worked_by_the_gateway_holding_its_claim() -> None:
    world = Driven()
    other = RequestWorker(world.plane, owner="gw-other", lease_seconds=30)
    with world.plane.store.transaction() as tx:  # gw-other claims everything, then stalls
        assert tx.claim("cloudcontrol", "gw-other", 0, 30, 10) == []
    request = service.create_resource(world.plane, SCOPE, MODEL, NAMELESS, None)
    now = world.plane.clock.now().timestamp()
    with world.plane.store.transaction() as tx:
        assert tx.claim("cloudcontrol", "gw-other", now, 30, 10) == [(SCOPE, request.request_token)]
    for _ in range(3):
        world.worker.run_once()  # not its claim: left alone
    assert service.get_request(world.plane, SCOPE, request.request_token).operation_status == (
        "IN_PROGRESS")  # fmt: skip
    assert isinstance(world.plane.clock, FakeClock)
    world.plane.clock.advance(timedelta(seconds=31))  # gw-other's lease runs out
    assert world.settle(request.request_token).operation_status == "SUCCESS"
    other.run_once()  # finished work is off the queue: nothing to claim
    with world.plane.store.transaction() as tx:
        assert tx.claim("cloudcontrol", "gw-other", now + 100, 30, 10) == []
