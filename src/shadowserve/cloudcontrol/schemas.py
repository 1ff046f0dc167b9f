"""CloudFormation registry schemas of the resource types we serve, shipped as package data,
and validation of a resource model against them in CloudFormation's own words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import regex
from jsonschema import Draft7Validator, ValidationError, validators

TYPES = {
    "AWS::SageMaker::Model": "AWS-SageMaker-Model.json",
    "AWS::SageMaker::EndpointConfig": "AWS-SageMaker-EndpointConfig.json",
    "AWS::SageMaker::Endpoint": "AWS-SageMaker-Endpoint.json",
    "AWS::SageMaker::InferenceExperiment": "AWS-SageMaker-InferenceExperiment.json",
}
_JAVA_TYPES = {
    "string": "String", "integer": "Integer", "number": "Number", "boolean": "Boolean",
    "object": "JSONObject", "array": "JSONArray", "null": "Null",
}  # fmt: skip


def _pattern(
    validator: Any, pattern: str, instance: Any, _schema: Any
) -> Iterator[ValidationError]:
    """Registry patterns are Java regexes (\\p{L} …): checked with the regex module."""
    if validator.is_type(instance, "string") and not regex.search(pattern, instance):
        yield ValidationError(f"string [{instance}] does not match pattern {pattern}")


# jsonschema ships no type for extend().
RegistryValidator = validators.extend(Draft7Validator, {"pattern": _pattern})  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class ResourceSchema:
    type_name: str
    document: dict[str, Any]

    @property
    def primary_identifier(self) -> str:
        return _name(self.document["primaryIdentifier"][0])

    def names(self, key: str) -> set[str]:
        return {_name(pointer) for pointer in self.document.get(key, [])}

    @property
    def read_only(self) -> set[str]:
        return self.names("readOnlyProperties")

    @property
    def create_only(self) -> set[str]:
        return self.names("createOnlyProperties")

    @property
    def write_only(self) -> set[str]:
        return self.names("writeOnlyProperties")

    def problems(self, model: Any) -> list[str]:
        """Every violation, as CloudFormation phrases them (``#/Name: …``)."""
        checker = RegistryValidator(self.document)
        found = sorted(checker.iter_errors(model), key=lambda e: list(e.absolute_path))
        return [_message(error) for error in found]


def schema_for(type_name: str) -> ResourceSchema | None:
    file_name = TYPES.get(type_name)
    return None if file_name is None else _load(type_name, file_name)


@cache
def _load(type_name: str, file_name: str) -> ResourceSchema:
    text = (files("shadowserve.cloudcontrol") / "schemas" / file_name).read_text()
    return ResourceSchema(type_name, json.loads(text))


def _name(pointer: str) -> str:
    """``/properties/Name`` → ``Name``."""
    return pointer.removeprefix("/properties/").split("/", 1)[0]


def _message(error: ValidationError) -> str:
    where = "#" + "".join(f"/{part}" for part in error.absolute_path)
    keyword, value = error.validator, error.validator_value
    instance: Any = error.instance
    texts = {
        "additionalProperties": lambda: _extraneous(instance, error.schema),
        "type": lambda: (
            f"expected type: {_JAVA_TYPES.get(str(value), value)}, found: {_java_type(instance)}"
        ),
        "required": lambda: f"required key [{_missing(error)}] not found",
        "enum": lambda: f"{instance} is not a valid enum value",
        "maxLength": lambda: f"expected maxLength: {value}, actual: {len(instance)}",
        "minLength": lambda: f"expected minLength: {value}, actual: {len(instance)}",
        "maximum": lambda: f"{instance} is not less or equal to {value}",
        "minimum": lambda: f"{instance} is not greater or equal to {value}",
        "maxItems": lambda: f"expected maximum item count: {value}, found: {len(instance)}",
        "minItems": lambda: f"expected minimum item count: {value}, found: {len(instance)}",
    }
    text = texts[str(keyword)]() if keyword in texts else error.message
    return f"{where}: {text}"


def _extraneous(instance: Any, schema: Any) -> str:
    allowed = set(schema.get("properties", {}))
    extra = sorted(key for key in instance if key not in allowed)
    return f"extraneous key [{', '.join(extra)}] is not permitted"


def _missing(error: ValidationError) -> str:
    return str(error.message).split("'")[1] if "'" in error.message else str(error.message)


def _java_type(value: Any) -> str:
    for name, java in (
        (bool, "Boolean"), (int, "Integer"), (float, "Number"), (str, "String"),
        (dict, "JSONObject"), (list, "JSONArray"),
    ):  # fmt: skip
        if isinstance(value, name):
            return java
    return "Null"
