"""Models, endpoint configs and endpoints through boto3: CRUD, waiters, the wire's error
codes and words, listing with paginators. The rules behind the refusals (references, names
taken, which status allows an update, filters and sorting) are tested on the fakes in
tests/unit/test_resource_rules.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.builders import ROLE, create_endpoint, create_model


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    code: str = excinfo.value.response["Error"]["Code"]
    return code


def message(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    text: str = excinfo.value.response["Error"]["Message"]
    return text


def test_model_crud(sagemaker: Any, unique: Any) -> None:
    name = unique("Model")
    arn = sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1",
            "ModelDataUrl": "s3://models/churn.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
        ExecutionRoleArn=ROLE,
        EnableNetworkIsolation=True,
    )["ModelArn"]
    # ARNs carry the name in lower case, as SageMaker's do.
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:model/{name.lower()}"
    described = sagemaker.describe_model(ModelName=name)
    assert described["ModelName"] == name
    assert described["PrimaryContainer"]["Environment"] == {"SAGEMAKER_PROGRAM": "inference.py"}
    assert described["EnableNetworkIsolation"] is True
    assert described["ExecutionRoleArn"] == ROLE
    with pytest.raises(ClientError) as excinfo:
        create_model(sagemaker, name)
    assert error_code(excinfo) == "ResourceInUse"
    assert arn in message(excinfo)
    sagemaker.delete_model(ModelName=name)
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_model(ModelName=name)
    assert error_code(excinfo) == "ValidationException"
    assert message(excinfo) == f'Could not find model "{arn}".'
    with pytest.raises(ClientError) as excinfo:
        sagemaker.delete_model(ModelName=name)
    assert error_code(excinfo) == "ValidationException"


def test_endpoint_config_crud_and_references(sagemaker: Any, unique: Any) -> None:
    model = unique("m")
    create_model(sagemaker, model)
    shadow_model = unique("s")
    create_model(sagemaker, shadow_model)
    name = unique("cfg")
    variant = {
        "VariantName": "A",
        "ModelName": model,
        "InitialInstanceCount": 2,
        "InstanceType": "ml.m5.large",
        "InitialVariantWeight": 1.0,
    }
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[variant],
        ShadowProductionVariants=[variant | {"VariantName": "S", "ModelName": shadow_model}],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 20,
            "DestinationS3Uri": "s3://bucket/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        },
        KmsKeyId="alias/mine",
    )
    described = sagemaker.describe_endpoint_config(EndpointConfigName=name)
    assert described["ProductionVariants"][0]["InitialInstanceCount"] == 2
    assert described["ShadowProductionVariants"][0]["ModelName"] == shadow_model
    assert described["DataCaptureConfig"]["InitialSamplingPercentage"] == 20
    assert described["KmsKeyId"] == "alias/mine"
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    assert error_code(excinfo) == "ResourceInUse"
    missing = unique("absent")
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_endpoint_config(
            EndpointConfigName=unique("cfg2"),
            ProductionVariants=[variant | {"ModelName": missing}],
        )
    assert error_code(excinfo) == "ValidationException"
    assert missing in message(excinfo)
    sagemaker.delete_endpoint_config(EndpointConfigName=name)
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_endpoint_config(EndpointConfigName=name)
    assert error_code(excinfo) == "ValidationException"


def test_endpoint_create_update_weights_delete_with_waiters(sagemaker: Any, unique: Any) -> None:
    model = unique("m")
    create_model(sagemaker, model)
    name = unique("ep")
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=unique("nothing"))
    assert error_code(excinfo) == "ValidationException"
    create_endpoint(sagemaker, name, model)
    described = sagemaker.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    assert error_code(excinfo) == "ResourceInUse"

    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-v2",
        ProductionVariants=[
            {
                "VariantName": "Blue",
                "ModelName": model,
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 3.0,
            },
            {
                "VariantName": "Green",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            },
        ],
    )
    sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v2")
    assert sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] in (
        "Updating",
        "InService",
    )
    waiter_config = {"Delay": 0.2, "MaxAttempts": 100}
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=waiter_config)
    updated = sagemaker.describe_endpoint(EndpointName=name)
    assert updated["EndpointConfigName"] == f"{name}-v2"
    assert [v["VariantName"] for v in updated["ProductionVariants"]] == ["Blue", "Green"]

    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[
            {"VariantName": "Green", "DesiredWeight": 5.0, "DesiredInstanceCount": 4}
        ],
    )
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=waiter_config)
    green = sagemaker.describe_endpoint(EndpointName=name)["ProductionVariants"][1]
    assert (green["CurrentWeight"], green["CurrentInstanceCount"]) == (5.0, 4)
    with pytest.raises(ClientError) as excinfo:
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=name,
            DesiredWeightsAndCapacities=[{"VariantName": "Nope", "DesiredWeight": 1.0}],
        )
    assert error_code(excinfo) == "ValidationException"

    sagemaker.delete_endpoint(EndpointName=name)
    sagemaker.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig=waiter_config)
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_endpoint(EndpointName=name)
    assert error_code(excinfo) == "ValidationException"
    assert message(excinfo).startswith('Could not find endpoint "arn:aws:sagemaker:us-east-1:')


def test_list_operations_filter_sort_and_paginate(sagemaker: Any, unique: Any) -> None:
    prefix = unique("lst")
    names = [f"{prefix}-{index}" for index in range(7)]
    for name in names:
        create_model(sagemaker, name)
    paginator = sagemaker.get_paginator("list_models")
    pages = list(paginator.paginate(NameContains=prefix, PaginationConfig={"PageSize": 3}))
    assert [len(page["Models"]) for page in pages] == [3, 3, 1]
    listed = [m["ModelName"] for page in pages for m in page["Models"]]
    assert listed == list(reversed(names))  # default: CreationTime, Descending
    ascending = sagemaker.list_models(NameContains=prefix, SortBy="Name", SortOrder="Ascending")
    assert [m["ModelName"] for m in ascending["Models"]] == names
    assert set(ascending["Models"][0]) == {"ModelName", "ModelArn", "CreationTime"}
    first = sagemaker.list_models(NameContains=prefix, MaxResults=2)
    assert "NextToken" in first
    # CreationTimeAfter travels as whole seconds; the filter itself is tested on the fakes.
    newer = sagemaker.list_models(NameContains=prefix, CreationTimeAfter=datetime(2000, 1, 1))
    assert len(newer["Models"]) == len(names)
    with pytest.raises(ClientError) as excinfo:
        sagemaker.list_models(NextToken="not-a-token")
    assert error_code(excinfo) == "ValidationException"


def test_list_endpoints_by_status(sagemaker: Any, unique: Any) -> None:
    model = unique("m")
    create_model(sagemaker, model)
    name = unique("ep")
    create_endpoint(sagemaker, name, model)
    listed = sagemaker.list_endpoints(NameContains=name, StatusEquals="InService")["Endpoints"]
    assert [e["EndpointName"] for e in listed] == [name]
    assert set(listed[0]) == {
        "EndpointName",
        "EndpointArn",
        "CreationTime",
        "LastModifiedTime",
        "EndpointStatus",
    }
    assert sagemaker.list_endpoints(NameContains=name, StatusEquals="Failed")["Endpoints"] == []
    configs = sagemaker.list_endpoint_configs(NameContains=name)["EndpointConfigs"]
    assert [c["EndpointConfigName"] for c in configs] == [f"{name}-config"]


def test_describe_members_sdks_read(sagemaker: Any, unique: Any) -> None:
    """Members SageMaker fills in that SDK resource classes read: defaults, deployed images,
    variant status, async and serverless settings; no empty-string KMS key."""
    model = unique("described")
    create_model(sagemaker, model)
    described = sagemaker.describe_model(ModelName=model)
    assert described["EnableNetworkIsolation"] is False
    assert described["PrimaryContainer"]["Mode"] == "SingleModel"

    endpoint = unique("described-ep")
    sagemaker.create_endpoint_config(
        EndpointConfigName=endpoint,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": model,
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
        DataCaptureConfig={"InitialSamplingPercentage": 100, "DestinationS3Uri": "s3://b/c",
                           "CaptureOptions": [{"CaptureMode": "Input"}]},
    )  # fmt: skip
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint)
    assert config["ProductionVariants"][0]["InitialVariantWeight"] == 1.0
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    creating = sagemaker.describe_endpoint(EndpointName=endpoint)
    if creating["EndpointStatus"] == "Creating":
        assert creating["ProductionVariants"][0]["VariantStatus"][0]["Status"] == "Creating"
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName=endpoint, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    serving = sagemaker.describe_endpoint(EndpointName=endpoint)
    (variant,) = serving["ProductionVariants"]
    (image,) = variant["DeployedImages"]
    assert image["SpecifiedImage"] == image["ResolvedImage"]
    assert image["SpecifiedImage"] == sagemaker.describe_model(ModelName=model)[
        "PrimaryContainer"]["Image"]  # fmt: skip
    assert variant["VariantStatus"] == []
    assert "KmsKeyId" not in serving["DataCaptureConfig"]

    asynchronous = unique("async-ep")
    output = {"OutputConfig": {"S3OutputPath": "s3://bucket/async-out"}}
    serverless = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    sagemaker.create_endpoint_config(
        EndpointConfigName=asynchronous, AsyncInferenceConfig=output,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": model,
                             "ServerlessConfig": serverless}],
    )  # fmt: skip
    sagemaker.create_endpoint(EndpointName=asynchronous, EndpointConfigName=asynchronous)
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName=asynchronous, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    special = sagemaker.describe_endpoint(EndpointName=asynchronous)
    assert special["AsyncInferenceConfig"] == output
    (variant,) = special["ProductionVariants"]
    assert variant["CurrentServerlessConfig"] == variant["DesiredServerlessConfig"] == serverless
