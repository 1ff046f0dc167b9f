"""A variant's workers: InstanceCount processes (or one external container), picked round
robin among the healthy ones, with a count of requests in flight for draining."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from shadowserve.logs.store import StreamWriter
from shadowserve.workers.instance import Instance, WorkerState


@dataclass
class VariantPool:
    identity: str  # what the pool serves; a deploy reuses a pool with the same identity
    variant_name: str
    workers: list[Instance]
    model_name: str | None = None  # of the model it runs, kept should the model be deleted
    # Healthy worker URLs, replaced whole (never mutated) so the data plane reads it lock-free.
    healthy_urls: tuple[str, ...] = ()
    in_flight: int = 0
    # The instances' log streams (the runtime's, released when the pool is let go of).
    log_streams: list[StreamWriter] = field(default_factory=list)
    _cycle: itertools.count[int] = field(default_factory=itertools.count)

    def pick(self, exclude: frozenset[str] = frozenset()) -> str | None:
        """The next healthy worker, round robin, skipping ``exclude`` (workers just tried)."""
        urls = [url for url in self.healthy_urls if url not in exclude]
        if not urls:
            return None
        return urls[next(self._cycle) % len(urls)]

    def lease(self, exclude: frozenset[str] = frozenset()) -> str | None:
        """A worker for one call (``pick``), counted in flight until ``release``."""
        url = self.pick(exclude)
        if url is not None:
            self.in_flight += 1
        return url

    def release(self) -> None:
        self.in_flight -= 1

    def mark_down(self, url: str) -> None:
        """Stop routing to a worker that refused a connection, until a /ping says otherwise."""
        self.healthy_urls = tuple(u for u in self.healthy_urls if u != url)

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def refresh(self) -> None:
        """Publish healthy URLs; schedule restarts of dead workers with backoff."""
        now = time.monotonic()
        for worker in self.workers:
            worker.tend(now)
        self.healthy_urls = tuple(
            w.url for w in self.workers if w.state == WorkerState.HEALTHY and w.url
        )

    def failure(self) -> str | None:
        """Why the pool can never become healthy (a model that cannot load), if so."""
        for worker in self.workers:
            if worker.state == WorkerState.FAILED:
                return worker.failure
        return None

    def all_healthy(self) -> bool:
        return all(w.state == WorkerState.HEALTHY for w in self.workers)

    def stop(self) -> None:
        self.healthy_urls = ()
        for worker in self.workers:
            worker.stop()

    def detach(self) -> None:
        self.healthy_urls = ()
        for worker in self.workers:
            worker.detach()
