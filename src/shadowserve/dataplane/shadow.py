"""Shadow mirroring that cannot hurt production.

Copies go onto a bounded queue that ``concurrency`` tasks drain through their own worker
connections (own pool, own timeout). The production path only ever calls
``submit``, which never waits: when the queue is full the copy is dropped and counted, and
while the event loop is saturated (dataplane/admission.py) it is shed, counted apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, replace
from typing import Protocol

from shadowserve.dataplane.admission import LoopLagAdmission
from shadowserve.dataplane.legs import Leg, leg_event
from shadowserve.dataplane.model_client import (
    ModelAnswer,
    ModelCall,
    call_model,
)
from shadowserve.dataplane.noise_probes import NoiseProbes
from shadowserve.dataplane.routing import ShadowRoute
from shadowserve.dataplane.worker_connections import WorkerConnections
from shadowserve.events.invocations import ErrorKind, EventBus, InvocationEvent, RepeatAnswer

log = logging.getLogger(__name__)


class ShadowCounts(Protocol):
    """What the dispatcher counts: its port, kept for Prometheus by metrics/shadow.py."""

    def sampled(self, endpoint: str, variant: str) -> None: ...

    def dropped(self, endpoint: str, variant: str) -> None: ...

    def shed(self, endpoint: str, variant: str) -> None: ...

    def probed(self, endpoint: str, variant: str) -> None: ...

    def finished(self, endpoint: str, variant: str, answer: ModelAnswer) -> None: ...


@dataclass(frozen=True)
class ShadowJob:
    leg: Leg
    route: ShadowRoute
    call: ModelCall
    submitted_ns: int


class ShadowDispatcher:
    def __init__(
        self,
        bus: EventBus,
        counters: ShadowCounts,
        concurrency: int = 32,
        queue_size: int = 1000,
        timeout: float = 60.0,
        probes: NoiseProbes | None = None,
        admission: LoopLagAdmission | None = None,
    ) -> None:
        self._bus = bus
        self._admission = admission or LoopLagAdmission(0)
        self._probes = probes or NoiseProbes(0)
        self._counters = counters
        self._concurrency = concurrency
        self._timeout = timeout
        self._queue: asyncio.Queue[ShadowJob] = asyncio.Queue(queue_size)
        self._tasks: list[asyncio.Task[None]] = []
        self._connections: WorkerConnections | None = None

    async def start(self) -> None:
        await self._admission.start()
        self._connections = WorkerConnections(limit=self._concurrency)
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._concurrency)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._connections is not None:
            await self._connections.close()
        await self._admission.stop()

    def submit(self, leg: Leg, route: ShadowRoute, call: ModelCall) -> None:
        """Hand a copy over without waiting; a saturated loop sheds it and a full queue drops
        it (each counted, with an event). Its overhead is timed from here."""
        job = ShadowJob(leg, route, call, time.perf_counter_ns())
        endpoint, variant = leg.endpoint_name, leg.variant_name
        self._counters.sampled(endpoint, variant)
        if not self._admission.admits():
            self._counters.shed(endpoint, variant)
            self._publish_dropped(job)
            return
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self._counters.dropped(endpoint, variant)
            self._publish_dropped(job)

    def _publish_dropped(self, job: ShadowJob) -> None:
        """The copy's event: never sent (its pair is counted as unpaired)."""
        answer = ModelAnswer(0, b"", None, None, 0, ErrorKind.DROPPED)
        self._bus.publish(_event(job, answer, time.perf_counter_ns()))

    async def _work(self) -> None:
        connections = self._connections
        assert connections is not None, "start() first"
        while True:
            job = await self._queue.get()
            try:
                pool = job.route.variant.pool
                answer = await call_model(connections, pool, job.call, self._timeout)
                finished_ns = time.perf_counter_ns()
                self._counters.finished(job.leg.endpoint_name, job.leg.variant_name, answer)
                event = _event(job, answer, finished_ns)
                if event.succeeded and self._probes.chosen(job.leg.experiment_name):
                    event = replace(event, repeat=await self._repeat(connections, job))
                self._bus.publish(event)
            except Exception:
                log.exception("shadow call failed unexpectedly")
            finally:
                self._queue.task_done()

    async def _repeat(self, connections: WorkerConnections, job: ShadowJob) -> RepeatAnswer:
        """The same request to the shadow once more: a noise probe."""
        self._counters.probed(job.leg.endpoint_name, job.leg.variant_name)
        answer = await call_model(connections, job.route.variant.pool, job.call, self._timeout)
        succeeded = answer.error_kind is None and 200 <= answer.status < 300
        return RepeatAnswer(answer.body, answer.content_type, succeeded)


def _event(job: ShadowJob, answer: ModelAnswer, finished_ns: int) -> InvocationEvent:
    return leg_event(job.leg, job.call, answer, (finished_ns - job.submitted_ns) // 1000)
