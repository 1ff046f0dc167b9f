"""One instance of a variant, whatever runs it: a worker process on this machine, a Ray
actor on a cluster's node, or a container someone else runs. Pools and the runtime see
only this; the launchers (workers/launchers.py, workers/ray_launcher.py) make them."""

from __future__ import annotations

import http.client
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlsplit

from shadowserve.services.runtime import Placement

PING_TIMEOUT_SECONDS = 5.0
# A /ping's answer is read up to this much; a longer one is not kept alive.
PING_BODY_LIMIT = 64 * 1024


class WorkerState(StrEnum):
    STARTING = "starting"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    FAILED = "failed"  # the model cannot load: restarting would not help
    STOPPED = "stopped"


class Instance(Protocol):
    name: str
    url: str | None  # None until it listens
    state: WorkerState
    failure: str | None  # why it is UNHEALTHY or FAILED
    restarts: int

    @property
    def pid(self) -> int | None:
        """The model server's process id, where it runs (for tests and the dashboard)."""
        ...

    @property
    def node(self) -> str:
        """Where it runs: "local", or the cluster node's address."""
        ...

    def start(self) -> None: ...

    def poll(self, checks: HealthChecks) -> None:
        """Update ``state`` and ``url`` (its process, then ``GET /ping``)."""
        ...

    def tend(self, now: float) -> None:
        """Restart it if it died and a restart is due (a no-op where something else
        restarts it)."""
        ...

    def stop(self) -> None:
        """Stop it for good."""
        ...

    def detach(self) -> None:
        """This server lets go of it: stopped when it runs here, left running where another
        server can adopt it (a cluster)."""
        ...

    def kill(self) -> None:
        """For tests and fault injection: its model server dies as in a crash."""
        ...


def placement(instance: Instance) -> Placement:
    return Placement(instance.name, instance.node, instance.state == WorkerState.HEALTHY)


class HealthChecks:
    """``GET /ping`` to model servers, over one kept-alive connection per server.

    Used by one thread at a time (a supervisor's). The standard library's client rather than
    httpx: the supervisor pings every instance four times a second, and an httpx ping cost
    ~0.9 ms of CPU against ~0.3 ms here — a third of an idle gateway's CPU went to pings
    (#16, docs/benchmarks.md).
    """

    def __init__(self, timeout: float = PING_TIMEOUT_SECONDS) -> None:
        self._timeout = timeout
        self._connections: dict[str, http.client.HTTPConnection] = {}
        self._used: set[str] = set()

    def answers(self, url: str) -> bool:
        """Whether the model server at ``url`` answers ``GET /ping`` with 200. A kept-alive
        connection the server has closed since is replaced once before it counts as down."""
        self._used.add(url)
        reused = url in self._connections
        healthy = self._ping(url)
        if healthy is None and reused:
            healthy = self._ping(url)
        return bool(healthy)

    def forget_unused(self) -> None:
        """Close the connections of servers not pinged since the last call (gone workers)."""
        for url in set(self._connections) - self._used:
            self._drop(url)
        self._used = set()

    def close(self) -> None:
        for url in list(self._connections):
            self._drop(url)

    def _ping(self, url: str) -> bool | None:
        """True or False as the server answered; None if the connection failed."""
        connection = self._connections.get(url)
        if connection is None:
            parts = urlsplit(url)
            if parts.scheme != "http" or parts.hostname is None:
                return False
            connection = http.client.HTTPConnection(
                parts.hostname, parts.port or 80, timeout=self._timeout
            )
            self._connections[url] = connection
        try:
            connection.request("GET", "/ping")
            response = connection.getresponse()
            response.read(PING_BODY_LIMIT)
            if not response.isclosed():  # more than the limit: not worth keeping
                self._drop(url)
            return response.status == 200
        except (OSError, http.client.HTTPException):
            self._drop(url)
            return None

    def _drop(self, url: str) -> None:
        connection = self._connections.pop(url, None)
        if connection is not None:
            connection.close()


def after_ping(state: WorkerState, healthy: bool) -> WorkerState:
    """The state a /ping's answer leaves an instance in: one still starting is not
    unhealthy until it has answered once."""
    if not healthy and state == WorkerState.STARTING:
        return state
    return WorkerState.HEALTHY if healthy else WorkerState.UNHEALTHY
