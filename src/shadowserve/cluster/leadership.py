"""One gateway at a time leads: it runs the reconciler (schedules, rollouts, statuses), owns
the model workers and publishes the routes every gateway serves from.

On PostgreSQL the lead is a session advisory lock held on a connection of its own: when the
leader dies its session ends, the lock is free, and the next gateway to try (every second)
takes it. Each new leader raises the epoch in the leader document; the leader's own writes
check the epoch in the same transaction (``FencedStore``), so a deposed leader that has not
noticed yet has its writes refused. With SQLite (one process) the only gateway always leads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from shadowserve.cluster.membership import CLUSTER
from shadowserve.domain.errors import StaleWrite
from shadowserve.periodic import PeriodicWork
from shadowserve.store.base import Document, DuplicateKeyError, Store, Transaction

log = logging.getLogger(__name__)

KIND = "leader"
NAME = "leader"
# pg_try_advisory_lock's key for the lead: any constant of our own ("LEAD").
LEADER_LOCK = 0x4C45_4144
TRY_EVERY_SECONDS = 1.0


class NotLeader(StaleWrite):
    """This gateway no longer leads: a write it began as leader is refused. A StaleWrite, so
    the reconciler drops the step as it drops any write that lost a race."""


class Leading(Protocol):
    def leads(self) -> bool: ...

    def epoch(self) -> int: ...


class SoleLeader:
    """The one process on a SQLite database: always leads."""

    def leads(self) -> bool:
        return True

    def epoch(self) -> int:
        return 0


class Leadership(PeriodicWork):
    """Tries for the lead every second and keeps checking it holds it; ``elected`` and
    ``deposed`` are called on this thread when that changes."""

    def __init__(self, engine: Engine, store: Store, gateway: str,
                 elected: Callable[[], None], deposed: Callable[[], None]) -> None:  # fmt: skip
        super().__init__("leadership", TRY_EVERY_SECONDS)
        self._engine = engine
        self._store = store
        self._gateway = gateway
        self._elected = elected
        self._deposed = deposed
        self._connection: Connection | None = None
        self._epoch = 0
        self._leads = threading.Event()

    def leads(self) -> bool:
        return self._leads.is_set()

    def epoch(self) -> int:
        return self._epoch

    def run_once(self) -> None:
        try:
            if self.leads():
                self._check()
            else:
                self._try()
        except Exception as exc:  # the database or the lock's session is gone
            log.warning("leadership: %s", exc)
            self._lose()

    def stop(self) -> None:
        super().stop()
        self._lose()

    def _try(self) -> None:
        if self._connection is None:
            self._connection = self._engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
        taken = self._connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK}
        ).scalar()
        if not taken:
            return
        self._epoch = _raise_epoch(self._store, self._gateway)
        self._leads.set()
        log.info("gateway %s leads (epoch %d)", self._gateway, self._epoch)
        self._elected()

    def _check(self) -> None:
        assert self._connection is not None
        self._connection.execute(text("SELECT 1"))  # fails once the lock's session is gone
        with self._store.transaction() as tx:
            current = _leader_document(tx)
        if current is None or current.body["epoch"] != self._epoch:
            raise NotLeader(f"epoch {self._epoch} is over")

    def _lose(self) -> None:
        if self._connection is not None:
            try:
                # Given back at once, so the next candidate's try finds it free: ending the
                # session frees it only once the server has noticed the connection closed.
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK}
                )
            except Exception:  # the session is already gone, and the lock with it
                log.debug("giving back the lead's lock failed", exc_info=True)
            try:
                # Invalidated, not closed: a closed connection goes back to the pool with
                # its session, and the lock, still alive. This ends the session.
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # already dead
                log.debug("closing the lead's connection failed", exc_info=True)
            self._connection = None
        if self._leads.is_set():
            self._leads.clear()
            log.warning("gateway %s no longer leads", self._gateway)
            self._deposed()


def leader_of(store: Store) -> str | None:
    """The gateway that took the lead last (it may have died since: see /healthz's gateways)."""
    with store.transaction() as tx:
        document = _leader_document(tx)
    return None if document is None else str(document.body["gateway"])


def _raise_epoch(store: Store, gateway: str) -> int:
    with store.transaction() as tx:
        current = _leader_document(tx)
        if current is None:
            epoch = 1
            try:
                tx.insert(Document(KIND, CLUSTER, NAME, {"epoch": epoch, "gateway": gateway}))
            except DuplicateKeyError as exc:  # pragma: no cover - only the lock holder writes
                raise NotLeader("another gateway wrote the lead") from exc
            return epoch
        epoch = int(current.body["epoch"]) + 1
        current.body = {"epoch": epoch, "gateway": gateway}
        tx.update(current)
        return epoch


def _leader_document(tx: Transaction) -> Document | None:
    return tx.get(KIND, CLUSTER, NAME)


class FencedStore:
    """The store as the leader's reconciler writes it: every transaction first checks that
    the epoch this gateway was elected with is still the leader document's."""

    def __init__(self, store: Store, leading: Leading) -> None:
        self._store = store
        self._leading = leading

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._store.transaction() as tx:
            if isinstance(self._leading, Leadership):
                current = _leader_document(tx)
                if not self._leading.leads() or current is None or (
                        current.body["epoch"] != self._leading.epoch()):  # fmt: skip
                    raise NotLeader("this gateway does not lead")
            yield tx

    def close(self) -> None:
        self._store.close()
