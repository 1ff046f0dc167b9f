"""Filtering, sorting and NextToken pagination shared by every List operation."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from shadowserve.domain.errors import InvalidInput

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 10


@dataclass(frozen=True)
class ListQuery:
    name_contains: str | None = None
    status_equals: str | None = None
    type_equals: str | None = None
    creation_time_after: datetime | None = None
    creation_time_before: datetime | None = None
    last_modified_time_after: datetime | None = None
    last_modified_time_before: datetime | None = None
    sort_by: str = "CreationTime"
    sort_order: str = "Descending"
    max_results: int | None = None
    next_token: str | None = None


@dataclass(frozen=True)
class Fields(Generic[T]):
    """How to read the listed fields of one resource type."""

    name: Callable[[T], str]
    creation_time: Callable[[T], datetime]
    last_modified_time: Callable[[T], datetime | None] = lambda _: None
    status: Callable[[T], str | None] = lambda _: None
    type: Callable[[T], str | None] = lambda _: None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_token: str | None


def paginate(items: Sequence[T], query: ListQuery, fields: Fields[T]) -> Page[T]:
    kept = [item for item in items if _matches(item, query, fields)]
    kept.sort(key=_sort_key(query.sort_by, fields), reverse=query.sort_order == "Descending")
    start = decode_token(query.next_token)
    size = query.max_results or DEFAULT_PAGE_SIZE
    end = start + size
    token = encode_token(end) if end < len(kept) else None
    return Page(kept[start:end], token)


def page_of(items: Sequence[T], max_results: int | None, next_token: str | None) -> Page[T]:
    """Pagination without filters, for lists in a fixed order (tags)."""
    start = decode_token(next_token)
    end = start + (max_results or DEFAULT_PAGE_SIZE)
    return Page(list(items[start:end]), encode_token(end) if end < len(items) else None)


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidInput("Invalid pagination token.") from exc
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInput("Invalid pagination token.")
    return offset


def _matches(item: T, query: ListQuery, fields: Fields[T]) -> bool:
    if query.name_contains and query.name_contains.lower() not in fields.name(item).lower():
        return False
    if query.status_equals and fields.status(item) != query.status_equals:
        return False
    if query.type_equals and fields.type(item) != query.type_equals:
        return False
    return _in_window(
        fields.creation_time(item), query.creation_time_after, query.creation_time_before
    ) and _in_window(
        fields.last_modified_time(item),
        query.last_modified_time_after,
        query.last_modified_time_before,
    )


def _in_window(value: datetime | None, after: datetime | None, before: datetime | None) -> bool:
    if value is None:
        return after is None and before is None
    if after is not None and value < after:
        return False
    return before is None or value < before


def _sort_key(sort_by: str, fields: Fields[T]) -> Callable[[T], tuple[str, str]]:
    def key(item: T) -> tuple[str, str]:
        name = fields.name(item)
        if sort_by == "Name":
            return (name.lower(), name)
        if sort_by == "Status":
            return (fields.status(item) or "", name)
        return (fields.creation_time(item).isoformat(), name)

    return key
