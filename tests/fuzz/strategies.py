"""Hypothesis strategies for request bodies, generated from botocore's service models:
values that fit each shape, and the same with members swapped for JSON of the wrong kind."""

from __future__ import annotations

import base64
from typing import Any

from botocore.model import Shape
from hypothesis import strategies as st

MAX_DEPTH = 4  # below this only required members are generated (the models nest deeply)

# Arbitrary JSON: what a broken or hostile client might put anywhere.
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)


def fitting(shape: Shape, junk: bool = False, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of `shape`; with `junk`, any member may instead be arbitrary JSON."""
    strategy = _fitting(shape, junk, depth)
    return st.one_of(strategy, json_values) if junk and depth > 0 else strategy


def _fitting(shape: Shape, junk: bool, depth: int) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        required = set(shape.required_members)
        members = shape.members  # type: ignore[attr-defined]
        fixed = {name: fitting(member, junk, depth + 1)
                 for name, member in members.items() if name in required}  # fmt: skip
        optional = {} if depth >= MAX_DEPTH else {
            name: fitting(member, junk, depth + 1)
            for name, member in members.items() if name not in required
        }  # fmt: skip
        return st.fixed_dictionaries(fixed, optional=optional)
    if kind == "list":
        member = fitting(shape.member, junk, depth + 1)  # type: ignore[attr-defined]
        return st.lists(member, max_size=2 if depth >= MAX_DEPTH else 3)
    if kind == "map":
        return st.dictionaries(
            fitting(shape.key, False, depth + 1),  # type: ignore[attr-defined]  # JSON keys
            fitting(shape.value, junk, depth + 1),  # type: ignore[attr-defined]
            max_size=3,
        )
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long"):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        return st.integers(min_value=low, max_value=high) | st.integers()
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.floats(min_value=0, max_value=4e9) | st.integers(0, 4_000_000_000)
    if kind == "blob":
        return st.binary(max_size=64).map(lambda raw: base64.b64encode(raw).decode())
    return json_values


def _string(shape: Shape) -> st.SearchStrategy[str]:
    enum = shape.enum  # type: ignore[attr-defined]
    low = shape.metadata.get("min", 0)
    high = min(shape.metadata.get("max", 64), 64)
    plain = st.text(min_size=low, max_size=max(low, high))
    names = st.from_regex(r"\A[a-zA-Z0-9](-?[a-zA-Z0-9]){0,20}\Z")
    if enum:
        return st.sampled_from(list(enum)) | plain
    return names | plain
