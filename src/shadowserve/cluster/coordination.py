"""How one gateway takes part in a cluster: on PostgreSQL it leads or follows (see
leadership.py and routes.py); on SQLite it is the only gateway and always leads."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.engine import make_url

from shadowserve.cluster.leadership import FencedStore, Leadership, SoleLeader, leader_of
from shadowserve.cluster.routes import RouteFollower, RoutePublisher
from shadowserve.dataplane.routing import RoutingTable
from shadowserve.store.base import Store
from shadowserve.store.sql import SqlStore

log = logging.getLogger(__name__)


class Coordination:
    """Start before serving, stop after. ``release_workers`` stops every worker this gateway
    runs: called when it stops leading, since the new leader starts its own."""

    def __init__(self, store: SqlStore, routing: RoutingTable, gateway: str, db_url: str,
                 release_workers: Callable[[], None]) -> None:  # fmt: skip
        self._store = store
        self._release_workers = release_workers
        self._cluster = store.engine.dialect.name == "postgresql"
        self._publisher = RoutePublisher(routing, store)
        conninfo = make_url(db_url).set(drivername="postgresql")
        self._follower = RouteFollower(
            routing, store, conninfo.render_as_string(hide_password=False), gateway
        )
        self.leadership: Leadership | SoleLeader = (
            Leadership(store.engine, store, gateway, self._elected, self._deposed)
            if self._cluster
            else SoleLeader()
        )

    def leads(self) -> bool:
        return self.leadership.leads()

    def fenced(self) -> Store:
        """The store the leader's reconciler writes through: refused once it lost the lead."""
        return FencedStore(self._store, self.leadership)

    def leader(self) -> str | None:
        return leader_of(self._store) if self._cluster else None

    def start(self) -> None:
        if isinstance(self.leadership, Leadership):
            self._follower.start()  # a follower until elected
            self.leadership.start()

    def stop(self) -> None:
        if isinstance(self.leadership, Leadership):
            self.leadership.stop()
            self._publisher.stop()
            self._follower.stop()

    def _elected(self) -> None:
        self._follower.stop()
        self._publisher.reset()
        self._publisher.start()

    def _deposed(self) -> None:
        self._publisher.stop()
        self._release_workers()
        self._follower.start()
