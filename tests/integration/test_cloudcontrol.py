"""The Cloud Control API with boto3's cloudcontrol client: the seed's StackQL examples
(create with required or all properties, get, list, update with a patch, delete) over a
whole stack built through Cloud Control alone, plus every error case."""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, WaiterError

from shadowserve.cli.server_process import ServerProcess
from tests import builders
from tests.builders import ROLE
from tests.conftest import client

FAST_WAIT = {"Delay": 0.3, "MaxAttempts": 200}
EXPERIMENT = "AWS::SageMaker::InferenceExperiment"


@pytest.fixture
def cc(server: ServerProcess) -> Any:
    return client(server.url, "cloudcontrol")


def _wait(cc: Any, event: dict[str, Any]) -> dict[str, Any]:
    token = event["ProgressEvent"]["RequestToken"]
    with contextlib.suppress(WaiterError):  # FAILED ends the wait too; callers check
        cc.get_waiter("resource_request_success").wait(RequestToken=token, WaiterConfig=FAST_WAIT)
    status: dict[str, Any] = cc.get_resource_request_status(RequestToken=token)["ProgressEvent"]
    return status


def _create(cc: Any, type_name: str, desired: dict[str, Any]) -> dict[str, Any]:
    event = cc.create_resource(TypeName=type_name, DesiredState=json.dumps(desired))
    assert event["ProgressEvent"]["OperationStatus"] == "IN_PROGRESS"
    assert event["ProgressEvent"]["Operation"] == "CREATE"
    return _wait(cc, event)


def _patch(cc: Any, type_name: str, identifier: str, patch: list[dict[str, Any]]) -> Any:
    return cc.update_resource(
        TypeName=type_name, Identifier=identifier, PatchDocument=json.dumps(patch)
    )


def _variants(prod: str, cand: str) -> list[dict[str, Any]]:
    infrastructure = {"InfrastructureType": "RealTimeInference",
                      "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large",
                                                  "InstanceCount": 1}}  # fmt: skip
    return [
        {"ModelName": prod, "VariantName": "AllTraffic", "InfrastructureConfig": infrastructure},
        {"ModelName": cand, "VariantName": "shadow", "InfrastructureConfig": infrastructure},
    ]


class Stack:
    """Model, config and endpoint created through Cloud Control alone."""

    def __init__(self, cc: Any) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.prod, self.cand = f"cc-prod-{suffix}", f"cc-cand-{suffix}"
        self.endpoint, self.config = f"cc-ep-{suffix}", f"cc-cfg-{suffix}"
        for name in (self.prod, self.cand):
            done = _create(cc, "AWS::SageMaker::Model", {
                "ModelName": name, "ExecutionRoleArn": ROLE,
                "PrimaryContainer": {"Image": builders.CONTAINER_IMAGE["url"]},
                "Tags": [{"Key": "stack", "Value": suffix}]})  # fmt: skip
            assert done["OperationStatus"] == "SUCCESS", done
        done = _create(cc, "AWS::SageMaker::EndpointConfig", {
            "EndpointConfigName": self.config,
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": self.prod,
                                    "InitialInstanceCount": 1, "InstanceType": "ml.m5.large",
                                    "InitialVariantWeight": 1.0}]})  # fmt: skip
        assert done["OperationStatus"] == "SUCCESS", done
        self.config_arn = done["Identifier"]
        done = _create(
            cc,
            "AWS::SageMaker::Endpoint",
            {"EndpointName": self.endpoint, "EndpointConfigName": self.config},
        )
        assert done["OperationStatus"] == "SUCCESS", done
        self.endpoint_arn = done["Identifier"]


def test_stack_through_cloud_control_is_seen_by_sagemaker(cc: Any, sagemaker: Any) -> None:
    stack = Stack(cc)
    described = sagemaker.describe_endpoint(EndpointName=stack.endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointArn"] == stack.endpoint_arn
    model = json.loads(cc.get_resource(TypeName="AWS::SageMaker::Model",
                                       Identifier=sagemaker.describe_model(
                                           ModelName=stack.prod)["ModelArn"])[
        "ResourceDescription"]["Properties"])  # fmt: skip
    assert model["ModelName"] == stack.prod
    assert model["Tags"][0]["Key"] == "stack"
    config = json.loads(cc.get_resource(TypeName="AWS::SageMaker::EndpointConfig",
                                        Identifier=stack.config_arn)["ResourceDescription"][
        "Properties"])  # fmt: skip
    assert config["Id"] == stack.config_arn
    assert config["ProductionVariants"][0]["ModelName"] == stack.prod


def test_experiment_with_required_properties_only(cc: Any, sagemaker: Any) -> None:
    stack = Stack(cc)
    name = f"cc-x-{uuid.uuid4().hex[:8]}"
    done = _create(cc, EXPERIMENT, {
        "Name": name, "Type": "ShadowMode", "RoleArn": ROLE, "EndpointName": stack.endpoint,
        "ModelVariants": _variants(stack.prod, stack.cand)})  # fmt: skip
    assert done["OperationStatus"] == "SUCCESS", done
    assert done["Identifier"] == name
    described = sagemaker.describe_inference_experiment(Name=name)
    assert described["Status"] in ("Running", "Starting")
    # The schema lets ShadowModeConfig out: the endpoint's variant is production.
    assert described["ShadowModeConfig"]["SourceModelVariantName"] == "AllTraffic"
    model = json.loads(done["ResourceModel"])
    assert model["Name"] == name
    assert "DesiredState" not in model and "Schedule" not in model  # writeOnly: never read


def test_comparison_settings_through_cloud_control_tags(cc: Any, server: ServerProcess) -> None:
    stack = Stack(cc)
    desired = {"Name": f"cc-x-{uuid.uuid4().hex[:8]}", "Type": "ShadowMode", "RoleArn": ROLE,
               "EndpointName": stack.endpoint, "ModelVariants": _variants(stack.prod, stack.cand),
               "Tags": [{"Key": "shadowserve:compare-mode", "Value": "loose"}]}  # fmt: skip
    bad = _create(cc, EXPERIMENT, desired)
    assert (bad["OperationStatus"], bad["ErrorCode"]) == ("FAILED", "InvalidRequest")
    assert "Unknown compare mode 'loose'" in bad["StatusMessage"]
    desired["Tags"] = [{"Key": "shadowserve:compare-mode", "Value": "equivalence"}]
    assert _create(cc, EXPERIMENT, desired)["OperationStatus"] == "SUCCESS"
    report = httpx.get(f"{server.url}/api/experiments/{desired['Name']}/report").json()
    assert report["settings"]["mode"] == "equivalence"
    patch = [{"op": "replace", "path": "/Tags/0/Value", "value": "loose"}]
    failed = _wait(cc, _patch(cc, EXPERIMENT, desired["Name"], patch))
    assert (failed["OperationStatus"], failed["ErrorCode"]) == ("FAILED", "InvalidRequest")
    assert "Unknown compare mode 'loose'" in failed["StatusMessage"]


def test_experiment_lifecycle_with_all_properties(cc: Any, sagemaker: Any) -> None:
    stack = Stack(cc)
    name = f"cc-all-{uuid.uuid4().hex[:8]}"
    desired = {
        "Name": name, "Type": "ShadowMode", "Description": "all properties",
        "RoleArn": ROLE, "EndpointName": stack.endpoint,
        "Schedule": {"StartTime": "2099-01-01T00:00:00Z", "EndTime": "2099-01-20T00:00:00Z"},
        "KmsKey": "alias/experiment",
        "DataStorageConfig": {"Destination": "s3://capture/cc", "KmsKey": "alias/capture",
                              "ContentType": {"CsvContentTypes": ["text/csv"],
                                              "JsonContentTypes": ["application/json"]}},
        "ModelVariants": _variants(stack.prod, stack.cand),
        "ShadowModeConfig": {"SourceModelVariantName": "AllTraffic", "ShadowModelVariants": [
            {"ShadowModelVariantName": "shadow", "SamplingPercentage": 40}]},
        "Tags": [{"Key": "team", "Value": "ml"}],
        "StatusReason": "created by cloud control",
        "DesiredState": "Running",
    }  # fmt: skip
    done = _create(cc, EXPERIMENT, desired)
    assert done["OperationStatus"] == "SUCCESS", done
    got = json.loads(cc.get_resource(TypeName=EXPERIMENT, Identifier=name)[
        "ResourceDescription"]["Properties"])  # fmt: skip
    assert got["Status"] == "Created"  # the schedule starts in 2099
    assert got["Description"] == "all properties"
    assert got["EndpointMetadata"]["EndpointName"] == stack.endpoint
    assert got["DataStorageConfig"]["Destination"] == "s3://capture/cc"
    assert got["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert "Status" not in got["ModelVariants"][0]
    assert {"Schedule", "DesiredState", "StatusReason"}.isdisjoint(got)
    assert isinstance(got["CreationTime"], str)

    listed = cc.get_paginator("list_resources").paginate(TypeName=EXPERIMENT)
    identifiers = [d["Identifier"] for page in listed for d in page["ResourceDescriptions"]]
    assert name in identifiers

    # Update in Created: description and sampling; then DesiredState Running starts it.
    updated = _wait(cc, _patch(cc, EXPERIMENT, name, [
        {"op": "replace", "path": "/Description", "value": "patched"},
        {"op": "replace", "path": "/ShadowModeConfig/ShadowModelVariants/0/SamplingPercentage",
         "value": 60},
        {"op": "test", "path": "/Type", "value": "ShadowMode"},
    ]))  # fmt: skip
    assert updated["OperationStatus"] == "SUCCESS", updated
    described = sagemaker.describe_inference_experiment(Name=name)
    assert described["Description"] == "patched"
    assert described["ShadowModeConfig"]["ShadowModelVariants"][0]["SamplingPercentage"] == 60
    started = _wait(
        cc,
        _patch(cc, EXPERIMENT, name, [{"op": "add", "path": "/DesiredState", "value": "Running"}]),
    )
    assert started["OperationStatus"] == "SUCCESS", started
    assert sagemaker.describe_inference_experiment(Name=name)["Status"] == "Running"

    # DesiredState Completed with the production variant dropped: promote the shadow.
    stopped = _wait(cc, _patch(cc, EXPERIMENT, name, [
        {"op": "replace", "path": "/DesiredState", "value": "Completed"},
        {"op": "remove", "path": "/ModelVariants/0"},
        {"op": "add", "path": "/StatusReason", "value": "promoted via cloud control"},
        {"op": "add", "path": "/Tags/-", "value": {"Key": "outcome", "Value": "promoted"}},
    ]))  # fmt: skip
    assert stopped["OperationStatus"] == "SUCCESS", stopped
    described = sagemaker.describe_inference_experiment(Name=name)
    assert described["Status"] == "Completed"
    assert described["StatusReason"] == "promoted via cloud control"
    endpoint = sagemaker.describe_endpoint(EndpointName=stack.endpoint)
    assert [v["VariantName"] for v in endpoint["ProductionVariants"]] == ["shadow"]
    tags = sagemaker.list_tags(ResourceArn=described["Arn"])["Tags"]
    assert {"Key": "outcome", "Value": "promoted"} in tags

    deleted = _wait(cc, cc.delete_resource(TypeName=EXPERIMENT, Identifier=name))
    assert deleted["OperationStatus"] == "SUCCESS"
    with pytest.raises(ClientError) as excinfo:
        cc.get_resource(TypeName=EXPERIMENT, Identifier=name)
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_delete_stops_a_running_experiment_first(cc: Any, sagemaker: Any) -> None:
    stack = Stack(cc)
    name = f"cc-del-{uuid.uuid4().hex[:8]}"
    _create(cc, EXPERIMENT, {"Name": name, "Type": "ShadowMode", "RoleArn": ROLE,
                             "EndpointName": stack.endpoint,
                             "ModelVariants": _variants(stack.prod, stack.cand)})  # fmt: skip
    deleted = _wait(cc, cc.delete_resource(TypeName=EXPERIMENT, Identifier=name))
    assert deleted["OperationStatus"] == "SUCCESS", deleted
    with pytest.raises(ClientError) as gone:
        sagemaker.describe_inference_experiment(Name=name)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFound"
    # The endpoint went back to serving production only.
    endpoint = sagemaker.describe_endpoint(EndpointName=stack.endpoint)
    assert "ShadowProductionVariants" not in endpoint


def test_endpoint_update_and_teardown(cc: Any, sagemaker: Any) -> None:
    stack = Stack(cc)
    second = f"{stack.config}-b"
    _create(
        cc,
        "AWS::SageMaker::EndpointConfig",
        {
            "EndpointConfigName": second,
            "ProductionVariants": [
                {
                    "VariantName": "B",
                    "ModelName": stack.cand,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        },
    )
    updated = _wait(cc, _patch(cc, "AWS::SageMaker::Endpoint", stack.endpoint_arn, [
        {"op": "replace", "path": "/EndpointConfigName", "value": second}]))  # fmt: skip
    assert updated["OperationStatus"] == "SUCCESS", updated
    assert sagemaker.describe_endpoint(EndpointName=stack.endpoint)["EndpointConfigName"] == second
    deleted = _wait(cc, cc.delete_resource(TypeName="AWS::SageMaker::Endpoint",
                                           Identifier=stack.endpoint_arn))  # fmt: skip
    assert deleted["OperationStatus"] == "SUCCESS"
    with pytest.raises(ClientError) as gone:
        sagemaker.describe_endpoint(EndpointName=stack.endpoint)
    assert gone.value.response["Error"]["Code"] == "ValidationException"
    assert "Could not find endpoint" in gone.value.response["Error"]["Message"]


def test_errors_in_cloud_control_wire(cc: Any) -> None:
    """One refused call per kind and a FAILED request, as boto3 sees them; the rules behind
    them are tested on the fakes in tests/unit/test_cloudcontrol_requests.py."""
    with pytest.raises(ClientError) as excinfo:
        cc.create_resource(TypeName="AWS::Nope::Thing", DesiredState="{}")
    assert excinfo.value.response["Error"] == {
        "Code": "TypeNotFoundException",
        "Message": "The type 'AWS::Nope::Thing' cannot be found.",
    }
    with pytest.raises(ClientError) as excinfo:
        cc.create_resource(TypeName=EXPERIMENT, DesiredState=json.dumps({"Name": "x", "Bogus": 1}))
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        cc.get_resource(TypeName=EXPERIMENT, Identifier="missing-x")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    token = str(uuid.uuid4())
    desired = json.dumps({"ModelName": f"cc-idem-{token[:8]}", "PrimaryContainer": {"Image": "x"}})
    first = cc.create_resource(TypeName="AWS::SageMaker::Model", DesiredState=desired,
                               ClientToken=token)  # fmt: skip
    with pytest.raises(ClientError) as excinfo:
        cc.create_resource(TypeName="AWS::SageMaker::Model", ClientToken=token,
                           DesiredState=json.dumps({"ModelName": "other"}))  # fmt: skip
    assert excinfo.value.response["Error"]["Code"] == "ClientTokenConflictException"
    assert _wait(cc, first)["OperationStatus"] == "SUCCESS"
    again = _create(cc, "AWS::SageMaker::Model", json.loads(desired))
    assert (again["OperationStatus"], again["ErrorCode"]) == ("FAILED", "AlreadyExists")
    summaries = [s for page in cc.get_paginator("list_resource_requests").paginate(
        ResourceRequestStatusFilter={"Operations": ["CREATE"], "OperationStatuses": ["FAILED"]})
        for s in page["ResourceRequestStatusSummaries"]]  # fmt: skip
    assert again["RequestToken"] in [s["RequestToken"] for s in summaries]


def test_requests_survive_a_restart(tmp_path: Any) -> None:
    with ServerProcess(tmp_path / "d", extra_args=["--reconcile-interval", "0.1"]) as first:
        cc = client(first.url, "cloudcontrol")
        done = _create(
            cc, "AWS::SageMaker::Model", {"ModelName": "kept", "PrimaryContainer": {"Image": "x"}}
        )
    with ServerProcess(tmp_path / "d", extra_args=["--reconcile-interval", "0.1"]) as second:
        cc = client(second.url, "cloudcontrol")
        again = cc.get_resource_request_status(RequestToken=done["RequestToken"])
        assert again["ProgressEvent"]["OperationStatus"] == "SUCCESS"
