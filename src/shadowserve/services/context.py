"""What every use case needs: the store, the clock, the runtime and the caller's scope."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from shadowserve.domain.arns import ResourceKind, Scope, resource_arn
from shadowserve.domain.clock import Clock
from shadowserve.domain.errors import Conflict, StaleWrite
from shadowserve.services.repository import Repository
from shadowserve.services.runtime import EndpointRuntime, InstancePlacements
from shadowserve.store.base import Store

R = TypeVar("R")


@dataclass
class ControlPlane:
    store: Store
    clock: Clock
    runtime: EndpointRuntime
    # Where instances run and how many answer (a cluster runtime's live figures, shown by
    # DescribeEndpoint and the dashboard); None: every instance is on this machine, and
    # DescribeEndpoint reports the counts asked for.
    placements: InstancePlacements | None = None
    # Set when a Cloud Control request is queued here: the worker that carries requests on
    # polls the queue only now and then while it is empty (cloudcontrol/worker.py).
    cloudcontrol_queued: threading.Event = field(default_factory=threading.Event)

    @contextmanager
    def repository(self, scope: Scope) -> Iterator[Repository]:
        with self.store.transaction() as tx:
            yield Repository(tx, scope)

    def write(self, scope: Scope, work: Callable[[Repository], R]) -> R:
        """Run ``work`` in one transaction; a concurrent change to what it read is a Conflict."""
        try:
            with self.repository(scope) as repo:
                return work(repo)
        except StaleWrite as exc:
            raise Conflict(
                "The resource was changed by another request at the same time; retry."
            ) from exc

    def arn(self, scope: Scope, kind: ResourceKind, name: str) -> str:
        return resource_arn(scope, kind, name)
