"""The store contract every backend (SQL, in-memory) fulfils; tests/contract runs it on each."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from shadowserve.domain.arns import Scope


@dataclass
class Document:
    """One stored resource. ``version`` counts writes, for optimistic concurrency."""

    kind: str
    scope: Scope
    name_key: str
    body: dict[str, Any]
    version: int = field(default=0)


@dataclass(frozen=True)
class AggregateKey:
    """One time interval of one aggregate. Pair aggregates leave ``variant`` and ``role``
    empty; ``experiment`` is empty for traffic outside any experiment."""

    kind: str  # "variant" or "pair"
    scope: Scope
    endpoint: str
    variant: str
    role: str
    experiment: str
    start: int  # the interval's start, seconds since the epoch (UTC)


class DuplicateKeyError(Exception):
    """insert() found a document with the same kind, scope and name."""


# One row of Transaction.stored: kind, account, region, name key, version, body as stored.
StoredRow = tuple[str, str, str, str, int, str]


class Transaction(Protocol):
    """A unit of work: everything done through it commits together or not at all."""

    def get(self, kind: str, scope: Scope, name_key: str) -> Document | None: ...

    def find_all(self, kind: str, scope: Scope | None = None) -> list[Document]:
        """Every document of a kind, in one scope or (None) in all scopes."""
        ...

    def insert(self, document: Document) -> Document: ...

    def update(self, document: Document) -> Document:
        """Write a document read earlier; raises StaleWrite if it changed since."""
        ...

    def delete(self, document: Document) -> None:
        """Delete a document read earlier; raises StaleWrite if it changed since."""
        ...

    def stored(self, kinds: Sequence[str]) -> list[StoredRow]:
        """(kind, account, region, name key, version, body as stored) of every document of
        these kinds, sorted by the first four: two looks differ when anything of them was
        written in between, told without parsing a body (the reconciler's "nothing to do")."""
        ...

    def tagged(self, key: str) -> list[tuple[str, str]]:
        """(ARN, value) of every resource that has a tag of this key, by ARN."""
        ...

    def tags(self, arn: str) -> list[tuple[str, str]]: ...

    def put_tags(self, arn: str, tags: list[tuple[str, str]]) -> None:
        """Add tags, overwriting the values of keys already present."""
        ...

    def delete_tags(self, arn: str, keys: list[str] | None = None) -> None:
        """Delete the named keys, or every tag of the ARN when keys is None."""
        ...

    def get_aggregate(self, key: AggregateKey) -> dict[str, Any] | None:
        """This store's own row for the interval (its writer's, when gateways share one
        database)."""
        ...

    def put_aggregate(self, key: AggregateKey, body: dict[str, Any]) -> None:
        """Insert or replace this store's own row for the interval."""
        ...

    def find_aggregates(
        self,
        kind: str,
        scope: Scope,
        endpoint: str | None = None,
        experiment: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> list[tuple[AggregateKey, dict[str, Any]]]:
        """Aggregates in start order, every writer's row (a key may come once per writer:
        callers merge them, as aggregates add up); ``since``/``until`` bound their starts
        (epoch seconds, ``since`` included, ``until`` not)."""
        ...

    def aggregated_variants(self, scope: Scope, since: int) -> list[tuple[str, str]]:
        """(endpoint, variant) of every variant aggregate starting at ``since`` or later,
        distinct and sorted, without reading the aggregates themselves."""
        ...

    def enqueue(self, queue: str, scope: Scope, key: str) -> None:
        """Add one item of work (a no-op if it is queued already)."""
        ...

    def claim(
        self, queue: str, owner: str, now: float, lease_seconds: float, limit: int
    ) -> list[tuple[Scope, str]]:
        """Up to ``limit`` items nobody holds (their lease ended before ``now``) or that
        ``owner`` holds already, leased to ``owner`` until ``now + lease_seconds``. Claimers
        sharing one database never get the same item while its lease runs (PostgreSQL:
        ``FOR UPDATE SKIP LOCKED``; SQLite: one writer at a time)."""
        ...

    def dequeue(self, queue: str, scope: Scope, key: str) -> None:
        """The item is done: nobody claims it again."""
        ...

    def notify(self, channel: str, payload: str) -> None:
        """Tell listeners on ``channel`` when the transaction commits (PostgreSQL's NOTIFY;
        a no-op where nothing else can listen: SQLite, memory)."""
        ...


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[Transaction]: ...

    def close(self) -> None: ...
