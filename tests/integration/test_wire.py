"""The awsJson 1.1 wire format as raw HTTP shows it, and regions as scopes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from shadowserve.cli.server_process import ServerProcess
from tests.builders import create_model
from tests.conftest import client

JSON_11 = "application/x-amz-json-1.1"


def call(server: ServerProcess, operation: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        server.url + "/",
        content=content,
        headers={"X-Amz-Target": f"SageMaker.{operation}", "Content-Type": JSON_11, **headers},
    )


def test_success_response_shape(server: ServerProcess, sagemaker: Any, unique: Any) -> None:
    name = unique("wire")
    create_model(sagemaker, name)
    response = call(server, "DescribeModel", {"ModelName": name})
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_11
    assert response.headers["x-amzn-requestid"]
    body = response.json()
    # Epoch seconds with milliseconds, as a JSON number.
    assert isinstance(body["CreationTime"], float)
    assert round(body["CreationTime"], 3) == body["CreationTime"]
    assert set(body) == {
        "ModelName",
        "ModelArn",
        "CreationTime",
        "PrimaryContainer",
        "ExecutionRoleArn",
        "EnableNetworkIsolation",
    }


def test_error_shape(server: ServerProcess) -> None:
    response = call(server, "DescribeInferenceExperiment", {"Name": "does-not-exist"})
    assert response.status_code == 400
    assert response.headers["x-amzn-requestid"]
    body = response.json()
    assert body["__type"] == "ResourceNotFound"
    assert body["message"] == "Inference experiment does-not-exist does not exist."


def test_empty_body_is_an_empty_request(server: ServerProcess) -> None:
    response = call(server, "ListModels", b"")
    assert response.status_code == 200
    assert "Models" in response.json()


def test_garbage_is_a_serialization_error_not_a_500(server: ServerProcess) -> None:
    for body in (b"{not json", b"[1, 2]", b'"text"'):
        response = call(server, "ListModels", body)
        assert response.status_code == 400, body
        assert response.json()["__type"] == "SerializationException"
    wrong_type = call(server, "ListModels", {"MaxResults": "ten"})
    assert wrong_type.status_code == 400
    assert wrong_type.json()["__type"] == "SerializationException"
    assert "maxResults" in wrong_type.json()["message"]


def test_missing_required_member(server: ServerProcess) -> None:
    response = call(server, "DescribeModel", {})
    assert response.json() == {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value null at 'modelName' failed to satisfy "
        "constraint: Member must not be null",
        "Message": "1 validation error detected: Value null at 'modelName' failed to satisfy "
        "constraint: Member must not be null",
    }


def test_unknown_operations(server: ServerProcess, sagemaker: Any) -> None:
    response = call(server, "CreateTrainingJob", {})
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"
    nonsense = call(server, "NoSuchThing", {})
    assert nonsense.json()["__type"] == "UnknownOperationException"
    other = httpx.post(server.url + "/", content=b"{}", headers={"X-Amz-Target": "Nope.Op"})
    assert other.status_code == 400
    assert other.json()["__type"] == "UnknownOperationException"
    with pytest.raises(ClientError) as excinfo:
        sagemaker.list_training_jobs()
    assert excinfo.value.response["Error"]["Code"] == "UnknownOperationException"


def test_paths_near_the_invocations_door_are_not_invocations(server: ServerProcess) -> None:
    """POSTs to /endpoints/<name>/invocations skip the router; their neighbours do not."""
    for path in ("/endpoints//invocations", "/endpoints/x/invocations/more",
                 "/endpoints/x/invoke", "/endpoints/x"):  # fmt: skip
        response = httpx.post(server.url + path, content=b"{}")
        assert response.status_code == 404, path
        assert response.json()["__type"] == "UnknownOperationException"
    wrong_method = httpx.get(server.url + "/endpoints/x/invocations")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["__type"] == "UnknownOperationException"
    missing = httpx.post(server.url + "/endpoints/no-such-endpoint/invocations", content=b"{}")
    assert missing.status_code == 400
    assert missing.headers["x-amzn-errortype"] == "ValidationError"


def test_model_monitor_lists_are_empty(sagemaker: Any) -> None:
    # SDKs look for monitoring schedules around endpoints; there are none, and saying so
    # is better than an UnknownOperationException.
    assert sagemaker.list_monitoring_schedules(EndpointName="any")[
        "MonitoringScheduleSummaries"] == []  # fmt: skip
    assert sagemaker.list_data_quality_job_definitions()["JobDefinitionSummaries"] == []
    assert sagemaker.list_monitoring_executions()["MonitoringExecutionSummaries"] == []


def test_healthz(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["data_dir_free_bytes"] > 0


def test_regions_are_separate(server: ServerProcess, unique: Any) -> None:
    east, west = client(server.url, region="us-east-1"), client(server.url, region="us-west-2")
    name = unique("regional")
    arn = create_model(west, name)
    assert arn.startswith("arn:aws:sagemaker:us-west-2:123456789012:model/")
    assert west.describe_model(ModelName=name)["ModelArn"] == arn
    with pytest.raises(ClientError) as elsewhere:
        east.describe_model(ModelName=name)
    assert "Could not find model" in elsewhere.value.response["Error"]["Message"]
    assert name not in [m["ModelName"] for m in east.list_models(NameContains=name)["Models"]]
    # The same name may exist in both regions.
    assert create_model(east, name).startswith("arn:aws:sagemaker:us-east-1:")


def test_sts_says_who_calls_and_other_query_services_fail_cleanly(server: ServerProcess) -> None:
    # SDKs ask STS for the account (the SageMaker SDK's Session.account_id()) — with
    # AWS_ENDPOINT_URL set, that call comes here, on the awsQuery wire.
    identity = client(server.url, "sts").get_caller_identity()
    assert identity["Account"] == "123456789012"
    assert identity["Arn"] == "arn:aws:iam::123456789012:root"
    # IAM is not served: botocore must still parse the answer as a ClientError.
    with pytest.raises(ClientError) as caught:
        client(server.url, "iam").get_role(RoleName="SageMakerRole")
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidAction"
    assert "GetRole" in error["Message"] and "does not serve" in error["Message"]
    with pytest.raises(ClientError) as caught:
        client(server.url, "sts").assume_role(RoleArn="arn:aws:iam::1:role/r", RoleSessionName="ss")
    assert caught.value.response["Error"]["Code"] == "InvalidAction"
    # A form that is not even UTF-8 gets the same document, not a 500.
    garbage = httpx.post(server.url + "/", content=b"\xff\xfe=\xff",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert garbage.status_code == 400
    assert "<ErrorResponse>" in garbage.text
