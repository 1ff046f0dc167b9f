"""The AWS CLI (a subprocess, pointed at us by AWS_ENDPOINT_URL) works unchanged."""

from __future__ import annotations

import json
from typing import Any

from tests.builders import CONTAINER_IMAGE, ROLE
from tests.conftest import parse_json


def test_cli_walks_models_endpoint_and_experiment(
    aws_cli: Any, sagemaker: Any, unique: Any
) -> None:
    prod, cand, endpoint, name = unique("cli-p"), unique("cli-c"), unique("cli-ep"), unique("cli-x")
    for model in (prod, cand):
        created = parse_json(
            aws_cli(
                "sagemaker",
                "create-model",
                "--model-name",
                model,
                "--primary-container",
                f"Image={CONTAINER_IMAGE['url']}",
                "--execution-role-arn",
                ROLE,
            )
        )
        assert created["ModelArn"].endswith(model)
    parse_json(
        aws_cli(
            "sagemaker",
            "create-endpoint-config",
            "--endpoint-config-name",
            endpoint,
            "--production-variants",
            f"VariantName=AllTraffic,ModelName={prod},InitialInstanceCount=1,"
            "InstanceType=ml.m5.large",
        )
    )
    parse_json(
        aws_cli(
            "sagemaker",
            "create-endpoint",
            "--endpoint-name",
            endpoint,
            "--endpoint-config-name",
            endpoint,
        )
    )
    waited = aws_cli("sagemaker", "wait", "endpoint-in-service", "--endpoint-name", endpoint)
    assert waited.returncode == 0, waited.stderr
    variants = [
        {
            "ModelName": m,
            "VariantName": v,
            "InfrastructureConfig": {
                "InfrastructureType": "RealTimeInference",
                "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            },
        }
        for m, v in ((prod, "AllTraffic"), (cand, "shadow"))
    ]
    created = parse_json(
        aws_cli(
            "sagemaker",
            "create-inference-experiment",
            "--name",
            name,
            "--type",
            "ShadowMode",
            "--role-arn",
            ROLE,
            "--endpoint-name",
            endpoint,
            "--model-variants",
            json.dumps(variants),
            "--shadow-mode-config",
            json.dumps(
                {
                    "SourceModelVariantName": "AllTraffic",
                    "ShadowModelVariants": [
                        {"ShadowModelVariantName": "shadow", "SamplingPercentage": 10}
                    ],
                }
            ),
        )
    )
    assert created["InferenceExperimentArn"].endswith(name)
    listed = parse_json(aws_cli("sagemaker", "list-inference-experiments", "--name-contains", name))
    assert [e["Name"] for e in listed["InferenceExperiments"]] == [name]
    described = parse_json(aws_cli("sagemaker", "describe-inference-experiment", "--name", name))
    assert described["EndpointMetadata"]["EndpointName"] == endpoint
    # AWS CLI v1 prints timestamps as the service sent them: epoch seconds with milliseconds.
    assert isinstance(described["CreationTime"], float)


def test_cli_reports_errors_like_aws(aws_cli: Any) -> None:
    result = aws_cli("sagemaker", "describe-inference-experiment", "--name", "not-there")
    assert result.returncode == 255  # AWS CLI v1's code for a service error
    assert (
        "An error occurred (ResourceNotFound) when calling the DescribeInferenceExperiment "
        "operation: Inference experiment not-there does not exist."
    ) in result.stderr
    bad = aws_cli(
        "sagemaker", "create-model", "--model-name", "bad_name", "--primary-container", "Image=x"
    )
    assert bad.returncode == 255
    assert "(ValidationException)" in bad.stderr
    assert "at 'modelName' failed to satisfy constraint" in bad.stderr


def test_cli_speaks_cloud_control(aws_cli: Any, sagemaker: Any, unique: Any) -> None:
    name = unique("cli-cc")
    created = parse_json(
        aws_cli("cloudcontrol", "create-resource", "--type-name", "AWS::SageMaker::Model",
                "--desired-state", json.dumps({"ModelName": name,
                                               "PrimaryContainer": {"Image": "x"}}))
    )  # fmt: skip
    token = created["ProgressEvent"]["RequestToken"]
    waited = aws_cli("cloudcontrol", "wait", "resource-request-success", "--request-token", token)
    assert waited.returncode == 0, waited.stderr
    arn = sagemaker.describe_model(ModelName=name)["ModelArn"]
    got = parse_json(aws_cli("cloudcontrol", "get-resource", "--type-name",
                             "AWS::SageMaker::Model", "--identifier", arn))  # fmt: skip
    assert json.loads(got["ResourceDescription"]["Properties"])["ModelName"] == name
    listed = parse_json(aws_cli("cloudcontrol", "list-resources", "--type-name",
                                "AWS::SageMaker::Model"))  # fmt: skip
    assert arn in [d["Identifier"] for d in listed["ResourceDescriptions"]]
