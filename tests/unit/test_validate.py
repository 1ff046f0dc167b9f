"""Validation against botocore's models produces AWS's own texts."""

from __future__ import annotations

import pytest

from shadowserve.protocol.awsjson_service import load_service_model
from shadowserve.protocol.validate import SerializationFailed, ValidationFailed, validate

MODEL = load_service_model("sagemaker")


def _input(operation: str):  # type: ignore[no-untyped-def]
    return MODEL.operation_model(operation).input_shape


def _message(operation: str, params: dict) -> str:  # type: ignore[type-arg]
    with pytest.raises(ValidationFailed) as excinfo:
        validate(_input(operation), params)
    return excinfo.value.message


def test_nested_list_paths_are_one_based_members() -> None:
    message = _message(
        "CreateEndpointConfig",
        {
            "EndpointConfigName": "c",
            "ProductionVariants": [
                {"VariantName": "ok", "ModelName": "m"},
                {"VariantName": "bad name", "ModelName": "m"},
            ],
        },
    )
    assert message == (
        "1 validation error detected: Value 'bad name' at "
        "'productionVariants.2.member.variantName' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    )


def test_several_errors_are_counted_and_joined() -> None:
    message = _message("DescribeModel", {"ModelName": "x" * 64 + "!"})
    assert message == (
        "2 validation errors detected: Value '" + "x" * 64 + "!' at 'modelName' failed to "
        "satisfy constraint: Member must have length less than or equal to 63; Value '"
        + "x"
        * 64
        + "!' at 'modelName' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: ^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?"
    )


def test_null_enum_range_and_list_size() -> None:
    message = _message(
        "StopInferenceExperiment",
        {
            "Name": "e",
            "ModelVariantActions": {"a": "Retain", "b": "Remove", "c": "Nope"},
            "DesiredState": "Done",
        },
    )
    assert (
        "at 'modelVariantActions' failed to satisfy constraint: Member must have length "
        "less than or equal to 2" in message
    )
    assert (
        "Value 'Nope' at 'modelVariantActions.c' failed to satisfy constraint: Member must "
        "satisfy enum value set: [Retain, Remove, Promote]" in message
    )
    assert (
        "Value 'Done' at 'desiredState' failed to satisfy constraint: Member must satisfy "
        "enum value set: [Completed, Cancelled]" in message
    )
    assert _message("ListModels", {"MaxResults": 0}) == (
        "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    assert _message("StopInferenceExperiment", {"Name": "e"}) == (
        "1 validation error detected: Value null at 'modelVariantActions' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_unicode_tag_patterns_are_understood() -> None:
    validate(
        _input("AddTags"),
        {
            "ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m",
            "Tags": [{"Key": "équipe", "Value": "données ml"}],
        },
    )
    message = _message(
        "AddTags",
        {
            "ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m",
            "Tags": [{"Key": "bad#key", "Value": "v"}],
        },
    )
    assert "'tags.1.member.key'" in message


def test_wrong_types_are_serialization_errors() -> None:
    with pytest.raises(SerializationFailed):
        validate(_input("ListModels"), {"MaxResults": "5"})
    with pytest.raises(SerializationFailed):
        validate(_input("ListModels"), {"CreationTimeAfter": "yesterday"})
    with pytest.raises(SerializationFailed):
        validate(
            _input("CreateEndpointConfig"),
            {"EndpointConfigName": "c", "ProductionVariants": {"a": 1}},
        )
    validate(_input("ListModels"), {"CreationTimeAfter": 1700000000})
    validate(_input("ListModels"), {"CreationTimeAfter": "2024-01-01T00:00:00Z"})
