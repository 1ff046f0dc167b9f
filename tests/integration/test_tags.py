"""AddTags, ListTags and DeleteTags on every resource ARN."""

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


def test_tags_list_in_order_and_are_limited_to_fifty(sagemaker: Any, unique: Any) -> None:
    setup = ShadowSetup(sagemaker, unique("tagpage"))
    arn = sagemaker.describe_model(ModelName=setup.shadow_model)["ModelArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": str(i)} for i in range(45)])
    # ListTags' MaxResults is at least 50, the most tags a resource can have: one page.
    pages = list(
        sagemaker.get_paginator("list_tags").paginate(
            ResourceArn=arn, PaginationConfig={"PageSize": 50}
        )
    )
    assert [len(p["Tags"]) for p in pages] == [45]
    assert [t["Key"] for t in pages[0]["Tags"]] == [f"k{i}" for i in range(45)]
    with pytest.raises(ClientError) as excinfo:
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": f"x{i}", "Value": ""} for i in range(6)])
    assert excinfo.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    assert len(sagemaker.list_tags(ResourceArn=arn)["Tags"]) == 45


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


def test_tags_removed_with_the_resource(sagemaker: Any, unique: Any) -> None:
    name = unique("gone")
    arn = sagemaker.create_model(
        ModelName=name, PrimaryContainer={"Image": "x"}, Tags=[{"Key": "a", "Value": "1"}]
    )["ModelArn"]
    sagemaker.delete_model(ModelName=name)
    sagemaker.create_model(ModelName=name, PrimaryContainer={"Image": "x"})
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == []
