"""Each gateway writes a heartbeat document every few seconds, so every gateway knows which
others share its database: /healthz lists them, and a gateway refuses to join others while
any of them (itself included) keeps model archives and captures on its own disk."""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass

from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import StaleWrite
from shadowserve.periodic import PeriodicWork
from shadowserve.store.base import Document, DuplicateKeyError, Store

log = logging.getLogger(__name__)

KIND = "gateway"
# Gateway documents belong to no account: one scope of their own.
CLUSTER = Scope("cluster", "cluster")
HEARTBEAT_SECONDS = 2.0
# A gateway not heard from for this long is gone (SIGKILL, lost machine).
STALE_SECONDS = 10.0


class ClusterRefused(Exception):
    """This gateway cannot join the gateways already on the database."""


@dataclass(frozen=True)
class Peer:
    gateway: str
    seen_seconds_ago: float
    shared_objects: bool


class Membership(PeriodicWork):
    def __init__(self, store: Store, gateway: str, shared_objects: bool) -> None:
        super().__init__("membership", HEARTBEAT_SECONDS)
        self._store = store
        self._gateway = gateway
        self._shared_objects = shared_objects

    @property
    def gateway(self) -> str:
        return self._gateway

    def join(self) -> None:
        """Announce this gateway; ClusterRefused if a gateway on a local object store would
        share the database with another (each would see only its own disk's archives and
        captures)."""
        self.run_once()
        others = [peer for peer in self.peers() if peer.gateway != self._gateway]
        local = [p.gateway for p in others if not p.shared_objects]
        if others and (not self._shared_objects or local):
            self.leave()
            who = ", ".join(f"{p.gateway} (seen {p.seen_seconds_ago:.1f} s ago)" for p in others)
            raise ClusterRefused(
                f"Other servers share this database: {who}. Several servers need one shared "
                "object store for model archives and captures, and "
                + ("this server keeps them in its local data dir" if not self._shared_objects
                   else f"{', '.join(local)} keep(s) them in a local data dir")
                + ". Start every server with --s3-endpoint-url (any S3-compatible store), "
                "or give each its own database."
            )  # fmt: skip

    def run_once(self) -> None:
        body = {"seen_at": time.time(), "shared_objects": self._shared_objects,
                "host": socket.gethostname(), "pid": os.getpid()}  # fmt: skip
        with self._store.transaction() as tx:
            mine = tx.get(KIND, CLUSTER, self._gateway)
            if mine is None:
                try:
                    tx.insert(Document(KIND, CLUSTER, self._gateway, body))
                except DuplicateKeyError:  # pragma: no cover - two gateways with one id
                    log.warning("another server uses gateway id %s", self._gateway)
                return
            mine.body = body
            try:
                tx.update(mine)
            except StaleWrite:  # pragma: no cover - two gateways with one id
                log.warning("another server uses gateway id %s", self._gateway)

    def peers(self) -> list[Peer]:
        """Gateways heard from within STALE_SECONDS, this one included, by id."""
        now = time.time()
        with self._store.transaction() as tx:
            documents = tx.find_all(KIND, CLUSTER)
        return sorted(
            (Peer(d.name_key, now - d.body["seen_at"], bool(d.body["shared_objects"]))
             for d in documents if now - d.body["seen_at"] <= STALE_SECONDS and _alive(d)),
            key=lambda peer: peer.gateway,
        )  # fmt: skip

    def leave(self) -> None:
        """A clean stop: the others stop counting this gateway at once."""
        with self._store.transaction() as tx:
            mine = tx.get(KIND, CLUSTER, self._gateway)
            if mine is not None:
                tx.delete(mine)


def _alive(document: Document) -> bool:
    """A gateway on this machine whose process is gone (SIGKILL, crash) is gone at once, so
    restarting it is never refused; others count until their heartbeat is STALE_SECONDS old."""
    if document.body.get("host") != socket.gethostname():
        return True
    pid = int(document.body.get("pid", 0))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return pid > 0
