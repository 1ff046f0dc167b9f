"""An in-memory store with the same contract as the SQL one: for fast unit tests."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import StaleWrite
from shadowserve.store.base import AggregateKey, Document, DuplicateKeyError, StoredRow

_Key = tuple[str, Scope, str]


class MemoryState:
    def __init__(self) -> None:
        self.documents: dict[_Key, Document] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.aggregates: dict[AggregateKey, dict[str, Any]] = {}
        # (queue, scope, key) -> (owner, lease end)
        self.work: dict[tuple[str, Scope, str], tuple[str, float]] = {}


class MemoryStore:
    def __init__(self) -> None:
        self._state = MemoryState()
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[MemoryTransaction]:
        with self._lock:
            # Work on a copy and swap it in only when the block succeeds: all or nothing.
            working = copy.deepcopy(self._state)
            yield MemoryTransaction(working)
            self._state = working

    def close(self) -> None:
        pass


class MemoryTransaction:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def get(self, kind: str, scope: Scope, name_key: str) -> Document | None:
        found = self._s.documents.get((kind, scope, name_key))
        return copy.deepcopy(found) if found else None

    def find_all(self, kind: str, scope: Scope | None = None) -> list[Document]:
        return [
            copy.deepcopy(doc)
            for (doc_kind, doc_scope, _), doc in self._s.documents.items()
            if doc_kind == kind and (scope is None or doc_scope == scope)
        ]

    def insert(self, document: Document) -> Document:
        key = (document.kind, document.scope, document.name_key)
        if key in self._s.documents:
            raise DuplicateKeyError(document.name_key)
        document.version = 1
        self._s.documents[key] = copy.deepcopy(document)
        return document

    def update(self, document: Document) -> Document:
        key = self._checked(document)
        document.version += 1
        self._s.documents[key] = copy.deepcopy(document)
        return document

    def delete(self, document: Document) -> None:
        del self._s.documents[self._checked(document)]

    def stored(self, kinds: Sequence[str]) -> list[StoredRow]:
        wanted = {str(kind) for kind in kinds}
        return sorted(
            (kind, scope.account, scope.region, name_key, doc.version,
             json.dumps(doc.body, sort_keys=True))
            for (kind, scope, name_key), doc in self._s.documents.items()
            if kind in wanted
        )  # fmt: skip

    def tagged(self, key: str) -> list[tuple[str, str]]:
        return sorted((arn, tags[key]) for arn, tags in self._s.tags.items() if key in tags)

    def tags(self, arn: str) -> list[tuple[str, str]]:
        return list(self._s.tags.get(arn, {}).items())

    def put_tags(self, arn: str, tags: list[tuple[str, str]]) -> None:
        self._s.tags.setdefault(arn, {}).update(tags)

    def delete_tags(self, arn: str, keys: list[str] | None = None) -> None:
        if keys is None:
            self._s.tags.pop(arn, None)
            return
        for key in keys:
            self._s.tags.get(arn, {}).pop(key, None)

    def get_aggregate(self, key: AggregateKey) -> dict[str, Any] | None:
        found = self._s.aggregates.get(key)
        return copy.deepcopy(found) if found is not None else None

    def put_aggregate(self, key: AggregateKey, body: dict[str, Any]) -> None:
        self._s.aggregates[key] = copy.deepcopy(body)

    def find_aggregates(
        self,
        kind: str,
        scope: Scope,
        endpoint: str | None = None,
        experiment: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> list[tuple[AggregateKey, dict[str, Any]]]:
        return sorted(
            (
                (key, copy.deepcopy(body))
                for key, body in self._s.aggregates.items()
                if key.kind == kind
                and key.scope == scope
                and (endpoint is None or key.endpoint == endpoint)
                and (experiment is None or key.experiment == experiment)
                and (since is None or key.start >= since)
                and (until is None or key.start < until)
            ),
            key=lambda item: item[0].start,
        )

    def aggregated_variants(self, scope: Scope, since: int) -> list[tuple[str, str]]:
        return sorted({
            (key.endpoint, key.variant)
            for key in self._s.aggregates
            if key.kind == "variant" and key.scope == scope and key.start >= since
        })  # fmt: skip

    def enqueue(self, queue: str, scope: Scope, key: str) -> None:
        self._s.work.setdefault((queue, scope, key), ("", 0.0))

    def claim(
        self, queue: str, owner: str, now: float, lease_seconds: float, limit: int
    ) -> list[tuple[Scope, str]]:
        claimed: list[tuple[str, Scope, str]] = []
        for item, (holder, until) in self._s.work.items():
            if len(claimed) < limit and item[0] == queue and (holder == owner or until < now):
                claimed.append(item)
        for item in claimed:
            self._s.work[item] = (owner, now + lease_seconds)
        return [(scope, key) for _, scope, key in claimed]

    def dequeue(self, queue: str, scope: Scope, key: str) -> None:
        self._s.work.pop((queue, scope, key), None)

    def notify(self, channel: str, payload: str) -> None:
        pass  # one process: nobody else to tell

    def _checked(self, document: Document) -> _Key:
        key = (document.kind, document.scope, document.name_key)
        stored = self._s.documents.get(key)
        if stored is None or stored.version != document.version:
            raise StaleWrite(document.name_key)
        return key
