"""Trim a response to its botocore output shape, so only modeled members reach the wire."""

from __future__ import annotations

from typing import Any

from botocore.model import Shape


def conform(shape: Shape | None, value: Any) -> Any:
    if shape is None or value is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        return {
            name: conform(shape.members[name], item)
            for name, item in value.items()
            if name in shape.members and item is not None
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [conform(shape.member, item) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: conform(shape.value, item) for key, item in value.items()}
    return value
