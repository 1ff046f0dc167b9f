"""AddTags, ListTags and DeleteTags on every resource ARN, through boto3; the tag rules
(order, the limit of 50, tags gone with their resource) are tested on the fakes in
tests/unit/test_resource_rules.py."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.builders import ShadowSetup


def test_tags_on_every_resource(sagemaker: Any, unique: Any) -> None:
    setup = ShadowSetup(sagemaker, unique("tag"))
    experiment_arn = setup.create(Tags=[{"Key": "team", "Value": "ml"}])
    arns = [
        sagemaker.describe_model(ModelName=setup.production_model)["ModelArn"],
        sagemaker.describe_endpoint_config(EndpointConfigName=f"{setup.endpoint}-config")[
            "EndpointConfigArn"
        ],
        sagemaker.describe_endpoint(EndpointName=setup.endpoint)["EndpointArn"],
        experiment_arn,
    ]
    assert sagemaker.list_tags(ResourceArn=experiment_arn)["Tags"] == [
        {"Key": "team", "Value": "ml"}
    ]
    for arn in arns:
        added = sagemaker.add_tags(
            ResourceArn=arn,
            Tags=[{"Key": "stage", "Value": "test"}, {"Key": "owner", "Value": "a"}],
        )
        assert added["Tags"][0] == {"Key": "stage", "Value": "test"}
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "b"}])
        tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=arn)["Tags"]}
        assert tags["stage"] == "test"
        assert tags["owner"] == "b"
        sagemaker.delete_tags(ResourceArn=arn, TagKeys=["stage"])
        tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=arn)["Tags"]}
        assert "stage" not in tags


def test_tags_of_a_missing_resource(sagemaker: Any) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model/not-there"
    for call in (
        lambda: sagemaker.list_tags(ResourceArn=arn),
        lambda: sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "b"}]),
        lambda: sagemaker.delete_tags(ResourceArn=arn, TagKeys=["a"]),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert excinfo.value.response["Error"]["Code"] == "ValidationException"
