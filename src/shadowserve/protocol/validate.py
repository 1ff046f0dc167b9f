"""Request validation driven by the service models that botocore ships.

Produces AWS's own ValidationException text ("1 validation error detected: Value 'x' at
'productionVariants.1.member.variantName' failed to satisfy constraint: …"), including the
checks botocore's client skips (maximum lengths and values, patterns, enums).
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import regex
from botocore.model import Shape

from shadowserve.domain.errors import DomainError


class ValidationFailed(DomainError):
    """One or more constraint violations, already joined in AWS's wording."""


class SerializationFailed(DomainError):
    """A member had the wrong JSON type (AWS: SerializationException)."""


def validate(
    shape: Shape | None, params: dict[str, Any], not_required: frozenset[str] = frozenset()
) -> None:
    """Raise ValidationFailed listing every violation; ``not_required`` names required
    members checked elsewhere (InvokeEndpoint's body travels outside the JSON)."""
    if shape is None:
        return
    problems: list[str] = []
    _structure(shape, params, "", problems, not_required)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise ValidationFailed(f"{count} validation {noun} detected: " + "; ".join(problems))


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    checker = _CHECKERS.get(shape.type_name)
    if checker is not None:
        checker(shape, value, path, problems)


def _structure(
    shape: Shape,
    value: Any,
    path: str,
    problems: list[str],
    not_required: frozenset[str] = frozenset(),
) -> None:
    if not isinstance(value, dict):
        raise _type_error(value, path, "a structure")
    for name in shape.required_members:
        if value.get(name) is None and name not in not_required:
            problems.append(
                f"Value null at '{_join(path, name)}' failed to satisfy constraint: "
                "Member must not be null"
            )
    for name, member in shape.members.items():
        if value.get(name) is not None:
            _check(member, value[name], _join(path, name), problems)


def _list(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, list):
        raise _type_error(value, path, "a list")
    _length(shape, value, len(value), path, problems)
    for index, item in enumerate(value, start=1):
        if item is not None:
            _check(shape.member, item, f"{path}.{index}.member", problems)


def _map(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        raise _type_error(value, path, "a map")
    _length(shape, value, len(value), path, problems)
    for key, item in value.items():
        _check(shape.key, key, f"{path}.key", problems)
        if item is not None:
            _check(shape.value, item, f"{path}.{key}", problems)


def _string(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        raise _type_error(value, path, "a string")
    _length(shape, value, len(value), path, problems)
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        problems.append(
            _failed(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        )
    pattern = shape.metadata.get("pattern")
    if pattern and not _matches(pattern, value):
        problems.append(
            _failed(value, path, f"Member must satisfy regular expression pattern: ^{pattern}")
        )


def _integer(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(value, path, "an integer")
    _range(shape, value, path, problems)


def _number(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(value, path, "a number")
    _range(shape, value, path, problems)


def _boolean(_shape: Shape, value: Any, path: str, _problems: list[str]) -> None:
    if not isinstance(value, bool):
        raise _type_error(value, path, "a boolean")


def _timestamp(_shape: Shape, value: Any, path: str, _problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _type_error(value, path, "a timestamp")
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError as exc:
            raise _type_error(value, path, "a timestamp") from exc


def _blob(_shape: Shape, value: Any, path: str, _problems: list[str]) -> None:
    if not isinstance(value, str):
        raise _type_error(value, path, "base64-encoded binary data")
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise _type_error(value, path, "base64-encoded binary data") from exc


def _length(shape: Shape, value: Any, size: int, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        problems.append(
            _failed(value, path, f"Member must have length greater than or equal to {low}")
        )
    if high is not None and size > high:
        problems.append(
            _failed(value, path, f"Member must have length less than or equal to {high}")
        )


def _range(shape: Shape, value: float, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        problems.append(
            _failed(value, path, f"Member must have value greater than or equal to {low}")
        )
    if high is not None and value > high:
        problems.append(
            _failed(value, path, f"Member must have value less than or equal to {high}")
        )


def _failed(value: Any, path: str, constraint: str) -> str:
    return f"Value '{_render(value)}' at '{path}' failed to satisfy constraint: {constraint}"


def _render(value: Any) -> str:
    """Values as AWS's Java services print them: lists [a, b], maps {k=v}."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_render(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_render(v)}" for k, v in value.items()) + "}"
    return str(value)


def _join(path: str, member: str) -> str:
    camel = member[:1].lower() + member[1:]
    return f"{path}.{camel}" if path else camel


def _type_error(value: Any, path: str, expected: str) -> SerializationFailed:
    where = path or "the request body"
    return SerializationFailed(
        f"Value {_render(value)!r} at '{where}' cannot be read as {expected}."
    )


@functools.lru_cache(maxsize=2048)
def _compiled(pattern: str) -> regex.Pattern[str] | None:
    try:
        return regex.compile(pattern)
    except regex.error:
        return None  # A Java-only construct: skip the check rather than reject valid input.


def _matches(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


_CHECKERS: dict[str, Callable[[Shape, Any, str, list[str]], None]] = {
    "structure": _structure,
    "list": _list,
    "map": _map,
    "string": _string,
    "integer": _integer,
    "long": _integer,
    "float": _number,
    "double": _number,
    "boolean": _boolean,
    "timestamp": _timestamp,
    "blob": _blob,
}
