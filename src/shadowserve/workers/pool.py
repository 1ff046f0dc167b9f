"""A variant's workers: InstanceCount processes (or one external container), picked round
robin among the healthy ones, with a count of requests in flight for draining."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from shadowserve.workers.process import Worker, WorkerState

RESTART_BACKOFF_MAX = 30.0
HEALTHY_RESET_AFTER = 60.0


@dataclass
class VariantPool:
    identity: str  # what the pool serves; a deploy reuses a pool with the same identity
    variant_name: str
    workers: list[Worker]
    model_name: str | None = None  # of the model it runs, kept should the model be deleted
    # Healthy worker URLs, replaced whole (never mutated) so the data plane reads it lock-free.
    healthy_urls: tuple[str, ...] = ()
    in_flight: int = 0
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
            self._restart_if_due(worker, now)
        self.healthy_urls = tuple(
            w.url for w in self.workers if w.state == WorkerState.HEALTHY and w.url
        )

    def _restart_if_due(self, worker: Worker, now: float) -> None:
        if worker.spec is None or worker.state != WorkerState.UNHEALTHY:
            if worker.healthy_since and now - worker.healthy_since > HEALTHY_RESET_AFTER:
                worker.restarts = 0
            return
        if worker.process is not None:
            return  # Alive but not answering /ping: give it time (its own timeout applies).
        if worker.next_start == 0.0:
            delay = min(RESTART_BACKOFF_MAX, 0.5 * 2**worker.restarts)
            worker.next_start = now + delay
        if now >= worker.next_start:
            worker.restarts += 1
            worker.next_start = 0.0
            worker.start()

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
