"""The SQL store: SQLAlchemy Core over SQLite (default, WAL) or PostgreSQL."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import and_, create_engine, delete, event, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import StaleWrite, StorageFull
from shadowserve.store import migrate
from shadowserve.store.base import AggregateKey, Document, DuplicateKeyError, StoredRow
from shadowserve.store.schema import aggregates, resources, tags, work

log = logging.getLogger(__name__)


class SqlStore:
    """``writer`` names this process's aggregate rows (the gateway id): gateways sharing the
    database each add to their own rows, and reads sum every writer's."""

    def __init__(self, url: str, writer: str = "") -> None:
        self._engine = _make_engine(url)
        self._writer = writer
        # SQLite has one writer; serialising our own writers avoids "database is locked"
        # retries. Transactions never do slow I/O while holding it.
        self._lock = threading.Lock()
        migrate.upgrade(self._engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        try:
            with self._lock, self._engine.begin() as connection:
                yield SqlTransaction(connection, self._writer)
        except OperationalError as exc:
            if _storage_full(exc):
                log.error("storage full, nothing written: %s", exc.orig)
                raise StorageFull(str(exc.orig)) from exc
            raise

    def close(self) -> None:
        self._engine.dispose()


def upgrade_schema(url: str) -> list[str]:
    """Run the migrations the database at ``url`` lacks (``shadowserve migrate``)."""
    engine = _make_engine(url)
    try:
        return migrate.upgrade(engine)
    finally:
        engine.dispose()


def _storage_full(exc: OperationalError) -> bool:
    """SQLite's "database or disk is full", PostgreSQL's disk_full (SQLSTATE 53100)."""
    text = str(exc.orig)
    return (
        "disk is full" in text
        or "No space left on device" in text
        or getattr(exc.orig, "sqlstate", None) == "53100"
    )


def _make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINTs (a released savepoint
        # commits); take control of BEGIN ourselves, as SQLAlchemy's docs recommend.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so two writers never deadlock upgrading.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class SqlTransaction:
    def __init__(self, connection: Connection, writer: str = "") -> None:
        self._c = connection
        self._writer = writer

    def get(self, kind: str, scope: Scope, name_key: str) -> Document | None:
        row = self._c.execute(
            select(resources.c.version, resources.c.body).where(_key(kind, scope, name_key))
        ).first()
        if row is None:
            return None
        return Document(kind, scope, name_key, json.loads(row.body), row.version)

    def find_all(self, kind: str, scope: Scope | None = None) -> list[Document]:
        query = select(resources).where(resources.c.kind == str(kind))
        if scope is not None:
            query = query.where(
                resources.c.account == scope.account, resources.c.region == scope.region
            )
        return [
            Document(
                kind,
                Scope(row.account, row.region),
                row.name_key,
                json.loads(row.body),
                row.version,
            )
            for row in self._c.execute(query)
        ]

    def insert(self, document: Document) -> Document:
        try:
            with self._c.begin_nested():
                self._c.execute(
                    insert(resources).values(
                        kind=str(document.kind),
                        account=document.scope.account,
                        region=document.scope.region,
                        name_key=document.name_key,
                        version=1,
                        body=json.dumps(document.body),
                    )
                )
        except IntegrityError as exc:
            raise DuplicateKeyError(document.name_key) from exc
        document.version = 1
        return document

    def update(self, document: Document) -> Document:
        result = self._c.execute(
            update(resources)
            .where(
                _key(document.kind, document.scope, document.name_key),
                resources.c.version == document.version,
            )
            .values(version=document.version + 1, body=json.dumps(document.body))
        )
        if result.rowcount != 1:
            raise StaleWrite(document.name_key)
        document.version += 1
        return document

    def delete(self, document: Document) -> None:
        result = self._c.execute(
            delete(resources).where(
                _key(document.kind, document.scope, document.name_key),
                resources.c.version == document.version,
            )
        )
        if result.rowcount != 1:
            raise StaleWrite(document.name_key)

    def stored(self, kinds: Sequence[str]) -> list[StoredRow]:
        c = resources.c
        rows = self._c.execute(
            select(c.kind, c.account, c.region, c.name_key, c.version, c.body)
            .where(c.kind.in_([str(kind) for kind in kinds]))
            .order_by(c.kind, c.account, c.region, c.name_key)
        )
        return [tuple(row) for row in rows]

    def tagged(self, key: str) -> list[tuple[str, str]]:
        rows = self._c.execute(
            select(tags.c.arn, tags.c.tag_value).where(tags.c.tag_key == key).order_by(tags.c.arn)
        )
        return [(row.arn, row.tag_value) for row in rows]

    def tags(self, arn: str) -> list[tuple[str, str]]:
        rows = self._c.execute(
            select(tags.c.tag_key, tags.c.tag_value)
            .where(tags.c.arn == arn)
            .order_by(tags.c.position)
        )
        return [(row.tag_key, row.tag_value) for row in rows]

    def put_tags(self, arn: str, new_tags: list[tuple[str, str]]) -> None:
        existing = dict(self.tags(arn))
        position = len(existing)
        for key, value in new_tags:
            if key in existing:
                self._c.execute(
                    update(tags)
                    .where(tags.c.arn == arn, tags.c.tag_key == key)
                    .values(tag_value=value)
                )
            else:
                self._c.execute(
                    insert(tags).values(arn=arn, tag_key=key, tag_value=value, position=position)
                )
                position += 1
            existing[key] = value

    def get_aggregate(self, key: AggregateKey) -> dict[str, Any] | None:
        row = self._c.execute(
            select(aggregates.c.body).where(
                _aggregate_key(key), aggregates.c.writer == self._writer
            )
        ).first()
        return None if row is None else dict(json.loads(row.body))

    def put_aggregate(self, key: AggregateKey, body: dict[str, Any]) -> None:
        values = {
            "kind": key.kind, "account": key.scope.account, "region": key.scope.region,
            "endpoint": key.endpoint, "variant": key.variant, "role": key.role,
            "experiment": key.experiment, "start": key.start, "writer": self._writer,
            "body": json.dumps(body),
        }  # fmt: skip
        statement = self._upsertable(aggregates).values(**values)
        self._c.execute(
            statement.on_conflict_do_update(
                index_elements=[c for c in aggregates.primary_key.columns],
                set_={"body": statement.excluded.body},
            )
        )

    def find_aggregates(
        self,
        kind: str,
        scope: Scope,
        endpoint: str | None = None,
        experiment: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> list[tuple[AggregateKey, dict[str, Any]]]:
        query = select(aggregates).where(
            aggregates.c.kind == kind,
            aggregates.c.account == scope.account,
            aggregates.c.region == scope.region,
        )
        if endpoint is not None:
            query = query.where(aggregates.c.endpoint == endpoint)
        if experiment is not None:
            query = query.where(aggregates.c.experiment == experiment)
        if since is not None:
            query = query.where(aggregates.c.start >= since)
        if until is not None:
            query = query.where(aggregates.c.start < until)
        rows = self._c.execute(query.order_by(aggregates.c.start))
        return [
            (
                AggregateKey(
                    row.kind,
                    scope,
                    row.endpoint,
                    row.variant,
                    row.role,
                    row.experiment,
                    row.start,
                ),
                json.loads(row.body),
            )
            for row in rows
        ]

    def aggregated_variants(self, scope: Scope, since: int) -> list[tuple[str, str]]:
        query = (
            select(aggregates.c.endpoint, aggregates.c.variant)
            .where(
                aggregates.c.kind == "variant",
                aggregates.c.account == scope.account,
                aggregates.c.region == scope.region,
                aggregates.c.start >= since,
            )
            .distinct()
            .order_by(aggregates.c.endpoint, aggregates.c.variant)
        )
        return [(row.endpoint, row.variant) for row in self._c.execute(query)]

    def enqueue(self, queue: str, scope: Scope, key: str) -> None:
        self._c.execute(
            self._upsertable(work)
            .values(queue=queue, account=scope.account, region=scope.region, item_key=key,
                    claimed_by="", lease_until=0.0)
            .on_conflict_do_nothing()
        )  # fmt: skip

    def claim(
        self, queue: str, owner: str, now: float, lease_seconds: float, limit: int
    ) -> list[tuple[Scope, str]]:
        free = (
            select(work.c.account, work.c.region, work.c.item_key)
            .where(work.c.queue == queue, or_(work.c.claimed_by == owner, work.c.lease_until < now))
            .order_by(work.c.lease_until)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer anyway
        )
        rows = self._c.execute(free).all()
        for row in rows:
            self._c.execute(
                update(work)
                .where(work.c.queue == queue, work.c.account == row.account,
                       work.c.region == row.region, work.c.item_key == row.item_key)
                .values(claimed_by=owner, lease_until=now + lease_seconds)
            )  # fmt: skip
        return [(Scope(row.account, row.region), row.item_key) for row in rows]

    def dequeue(self, queue: str, scope: Scope, key: str) -> None:
        self._c.execute(
            delete(work).where(work.c.queue == queue, work.c.account == scope.account,
                               work.c.region == scope.region, work.c.item_key == key)
        )  # fmt: skip

    def _upsertable(self, table: Any) -> Any:
        """An INSERT with ON CONFLICT, in this connection's dialect (both speak it)."""
        dialect = postgresql if self._c.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def notify(self, channel: str, payload: str) -> None:
        if self._c.dialect.name == "postgresql":
            self._c.execute(text("SELECT pg_notify(:channel, :payload)"),
                            {"channel": channel, "payload": payload})  # fmt: skip

    def delete_tags(self, arn: str, keys: list[str] | None = None) -> None:
        query = delete(tags).where(tags.c.arn == arn)
        if keys is not None:
            query = query.where(tags.c.tag_key.in_(keys))
        self._c.execute(query)


def _aggregate_key(key: AggregateKey) -> Any:
    return and_(
        aggregates.c.kind == key.kind,
        aggregates.c.account == key.scope.account,
        aggregates.c.region == key.scope.region,
        aggregates.c.endpoint == key.endpoint,
        aggregates.c.variant == key.variant,
        aggregates.c.role == key.role,
        aggregates.c.experiment == key.experiment,
        aggregates.c.start == key.start,
    )


def _key(kind: str, scope: Scope, name_key: str) -> Any:
    return and_(
        resources.c.kind == str(kind),
        resources.c.account == scope.account,
        resources.c.region == scope.region,
        resources.c.name_key == name_key,
    )
