"""One instance of a variant, whatever runs it: a worker process on this machine, a Ray
actor on a cluster's node, or a container someone else runs. Pools and the runtime see
only this; the launchers (workers/launchers.py, workers/ray_launcher.py) make them."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

import httpx

from shadowserve.services.runtime import Placement


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

    def poll(self, client: httpx.Client) -> None:
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


def pings(client: httpx.Client, url: str) -> bool:
    """Whether the model server at ``url`` answers ``GET /ping`` with 200."""
    try:
        return client.get(f"{url}/ping", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def after_ping(state: WorkerState, healthy: bool) -> WorkerState:
    """The state a /ping's answer leaves an instance in: one still starting is not
    unhealthy until it has answered once."""
    if not healthy and state == WorkerState.STARTING:
        return state
    return WorkerState.HEALTHY if healthy else WorkerState.UNHEALTHY
