"""Routes everywhere: the leader writes its routing snapshot to the database, one versioned
document per endpoint, and announces each change with NOTIFY; every other gateway applies
them to its own routing table, so its request path still never touches the database.

NOTIFY is not replayed to a listener that was away, so followers also resync in full every
few seconds and whenever their listening connection comes back. The listening connection is
one of its own: psycopg's ``notifies()`` blocks other queries on its connection."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from shadowserve.dataplane.routing import EndpointRoute, RoutingTable, ShadowRoute, VariantRoute
from shadowserve.domain.arns import Scope
from shadowserve.domain.resources import DataCaptureConfig
from shadowserve.periodic import PeriodicWork
from shadowserve.store.base import Document, Store

log = logging.getLogger(__name__)

KIND = "route"
CHANNEL = "shadowserve_routes"
PUBLISH_EVERY_SECONDS = 0.25
RESYNC_EVERY_SECONDS = 5.0


@dataclass
class RemotePool:
    """A variant's workers as another gateway (the leader) runs them: their URLs only."""

    urls: tuple[str, ...]
    healthy: tuple[str, ...] = ()
    _cycle: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.healthy = self.urls

    @property
    def workers(self) -> tuple[str, ...]:
        return self.urls

    @property
    def healthy_urls(self) -> tuple[str, ...]:
        return self.healthy

    def lease(self, exclude: frozenset[str] = frozenset()) -> str | None:
        urls = [url for url in self.healthy if url not in exclude]
        return urls[next(self._cycle) % len(urls)] if urls else None

    def release(self) -> None:
        pass  # the leader drains its own workers; nothing to count here

    def mark_down(self, url: str) -> None:
        # Until the leader's next snapshot says otherwise (its supervisor polls /ping).
        self.healthy = tuple(u for u in self.healthy if u != url)


def _variant_json(variant: VariantRoute) -> dict[str, Any]:
    return {"name": variant.name, "weight": variant.weight,
            "urls": list(variant.pool.healthy_urls)}  # fmt: skip


def route_json(route: EndpointRoute) -> dict[str, Any]:
    shadow = None
    if route.shadow is not None:
        shadow = {"variant": _variant_json(route.shadow.variant),
                  "sampling": route.shadow.sampling_percentage,
                  "experiment": route.shadow.experiment_name,
                  "redacted": sorted(route.shadow.redacted_keys)}  # fmt: skip
    return {
        "endpoint": route.endpoint_name,
        "production": [_variant_json(v) for v in route.production],
        "shadow": shadow,
        "capture": route.capture.model_dump(mode="json") if route.capture else None,
    }


def _variant(body: dict[str, Any]) -> VariantRoute:
    return VariantRoute(body["name"], float(body["weight"]), RemotePool(tuple(body["urls"])))


def route_from_json(body: dict[str, Any]) -> EndpointRoute:
    shadow = None
    if body["shadow"] is not None:
        found = body["shadow"]
        shadow = ShadowRoute(_variant(found["variant"]), float(found["sampling"]),
                             found["experiment"], frozenset(found["redacted"]))  # fmt: skip
    capture = DataCaptureConfig.model_validate(body["capture"]) if body["capture"] else None
    production = tuple(_variant(v) for v in body["production"])
    return EndpointRoute(body["endpoint"], production, shadow, capture)


def _payload(scope: Scope, name_key: str) -> str:
    return f"{scope.account}/{scope.region}/{name_key}"


class RoutePublisher(PeriodicWork):
    """On the leader: writes what its routing table holds whenever it differs from what was
    written last (a rollout's new workers, a worker down, a sampling change, a deletion)."""

    def __init__(self, routing: RoutingTable, store: Store) -> None:
        super().__init__("route-publisher", PUBLISH_EVERY_SECONDS)
        self._routing = routing
        self._store = store
        self._written: dict[tuple[Scope, str], dict[str, Any]] | None = None

    def reset(self) -> None:
        """Forget what was written: the next pass compares with the database afresh."""
        self._written = None

    def run_once(self) -> None:
        current = {(scope, name): route_json(route)
                   for (scope, name), route in self._routing.items()}  # fmt: skip
        written = self._written
        if written is None:
            with self._store.transaction() as tx:
                written = {(d.scope, d.name_key): d.body["route"] for d in tx.find_all(KIND)}
        changed = [key for key, body in current.items() if written.get(key) != body]
        gone = [key for key in written if key not in current]
        if changed or gone:
            with self._store.transaction() as tx:
                for scope, name in changed:
                    self._put(tx, scope, name, current[(scope, name)])
                for scope, name in gone:
                    stored = tx.get(KIND, scope, name)
                    if stored is not None:
                        tx.delete(stored)
                    tx.notify(CHANNEL, _payload(scope, name))
        self._written = current

    @staticmethod
    def _put(tx: Any, scope: Scope, name: str, body: dict[str, Any]) -> None:
        stored = tx.get(KIND, scope, name)
        document = {"route": body, "published_at": time.time()}
        if stored is None:
            tx.insert(Document(KIND, scope, name, document))
        else:
            stored.body = document
            tx.update(stored)
        tx.notify(CHANNEL, _payload(scope, name))


class RouteFollower:
    """On every gateway but the leader: applies the leader's routes as they are announced,
    and in full every RESYNC_EVERY_SECONDS and on every (re)connect."""

    def __init__(self, routing: RoutingTable, store: Store, conninfo: str, gateway: str) -> None:
        self._routing = routing
        self._store = store
        self._conninfo = conninfo
        self._gateway = gateway
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._applied: dict[tuple[Scope, str], dict[str, Any]] = {}  # what the table holds

    def start(self) -> None:
        self._stopped.clear()
        self._applied.clear()  # the leader may have changed the table: compare afresh
        self._thread = threading.Thread(target=self._loop, name="route-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                self._listen()
            except Exception as exc:  # connection killed, database restarting
                log.warning("route feed lost (%s); resyncing when it is back", exc)
                self._stopped.wait(1.0)

    def _listen(self) -> None:
        import psycopg  # noqa: PLC0415 - PostgreSQL's driver is an extra; only clusters need it

        name = f"shadowserve-routes-{self._gateway}"[:63]
        with psycopg.connect(self._conninfo, autocommit=True, application_name=name) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.resync()  # whatever was announced while nobody listened
            synced = time.monotonic()
            while not self._stopped.is_set():
                for notice in conn.notifies(timeout=0.5):
                    self._apply_one(notice.payload)
                if time.monotonic() - synced >= RESYNC_EVERY_SECONDS:
                    self.resync()
                    synced = time.monotonic()
            # A notification in flight at stop is left: the next leader or resync covers it.

    def resync(self) -> None:
        with self._store.transaction() as tx:
            documents = tx.find_all(KIND)
        wanted = {(d.scope, d.name_key): d.body["route"] for d in documents}
        for (scope, name), body in wanted.items():
            self._apply(scope, name, body)
        # Gone from the database: whether still routed here or already withdrawn locally
        # (DeleteEndpoint through this gateway), forget it, so a new endpoint of the same
        # name and the same route is applied afresh.
        for scope, name in set(self._routing.routed()) | set(self._applied):
            if (scope, name) not in wanted:
                self._apply(scope, name, None)

    def _apply_one(self, payload: str) -> None:
        account, region, name = payload.split("/", 2)
        scope = Scope(account, region)
        with self._store.transaction() as tx:
            document = tx.get(KIND, scope, name)
        self._apply(scope, name, document.body["route"] if document is not None else None)

    def _apply(self, scope: Scope, name: str, body: dict[str, Any] | None) -> None:
        if body is not None and self._applied.get((scope, name)) == body:
            return  # unchanged: keep the pool, and what it learnt of workers that are down
        self._routing.publish(scope, name, route_from_json(body) if body else None)
        if body is None:
            self._applied.pop((scope, name), None)
        else:
            self._applied[(scope, name)] = body
