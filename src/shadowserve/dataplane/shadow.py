"""Shadow mirroring that cannot hurt production.

Copies go onto a bounded queue that ``concurrency`` tasks drain through their own HTTP
client (own connection pool, own timeout). The production path only ever calls
``submit``, which never waits: when the queue is full the copy is dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import httpx

from shadowserve.dataplane.events import ErrorKind, EventBus, InvocationEvent, Role
from shadowserve.dataplane.model_client import (
    ModelAnswer,
    ModelCall,
    call_model,
    model_http_client,
)
from shadowserve.dataplane.routing import ShadowRoute
from shadowserve.domain.arns import Scope
from shadowserve.metrics.shadow import ShadowCounters

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShadowJob:
    scope: Scope
    endpoint_name: str
    route: ShadowRoute
    call: ModelCall
    inference_id: str
    inference_id_from_caller: bool
    submitted_ns: int


class ShadowDispatcher:
    def __init__(
        self,
        bus: EventBus,
        counters: ShadowCounters,
        concurrency: int = 32,
        queue_size: int = 1000,
        timeout: float = 60.0,
    ) -> None:
        self._bus = bus
        self._counters = counters
        self._concurrency = concurrency
        self._timeout = timeout
        self._queue: asyncio.Queue[ShadowJob] = asyncio.Queue(queue_size)
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = model_http_client(self._concurrency, self._concurrency)
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._concurrency)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()

    def submit(self, job: ShadowJob) -> None:
        """Hand a copy over without waiting; a full queue drops it (counted, with an event)."""
        variant = job.route.variant.name
        self._counters.sampled(job.endpoint_name, variant)
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self._counters.dropped(job.endpoint_name, variant)
            answer = ModelAnswer(0, b"", None, None, 0, ErrorKind.DROPPED)
            self._bus.publish(_event(job, answer, time.perf_counter_ns()))

    async def _work(self) -> None:
        client = self._client
        assert client is not None, "start() first"
        while True:
            job = await self._queue.get()
            try:
                pool = job.route.variant.pool
                answer = await call_model(client, pool, job.call, self._timeout)
                self._counters.finished(job.endpoint_name, job.route.variant.name, answer)
                self._bus.publish(_event(job, answer, time.perf_counter_ns()))
            except Exception:
                log.exception("shadow call failed unexpectedly")
            finally:
                self._queue.task_done()


def _event(job: ShadowJob, answer: ModelAnswer, finished_ns: int) -> InvocationEvent:
    total_us = (finished_ns - job.submitted_ns) // 1000
    return InvocationEvent(
        scope=job.scope,
        endpoint_name=job.endpoint_name,
        variant_name=job.route.variant.name,
        role=Role.SHADOW,
        experiment_name=job.route.experiment_name,
        inference_id=job.inference_id,
        inference_id_from_caller=job.inference_id_from_caller,
        request_body=job.call.body,
        request_content_type=job.call.content_type,
        accept=job.call.accept,
        response_body=answer.body,
        response_content_type=answer.content_type,
        status=answer.status,
        model_latency_us=answer.latency_us,
        overhead_latency_us=max(0, total_us - answer.latency_us),
        error_kind=answer.error_kind,
    )
