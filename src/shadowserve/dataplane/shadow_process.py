"""Shadow mirroring with the calls made by a process of their own (the default).

With a shadow that answers at once and 100 % sampling, the copy's HTTP call and event doubled
the gateway's CPU per request, all on the event loop production's requests wait on; on a
shared machine that showed as production p99 (docs/benchmarks.md). Here the loop only
pickles an order onto the child's stdin and, later, turns its result into the shadow's
event; the child (dataplane/shadow_child.py, at the shadow workers' lower priority) makes
the calls. The guarantees are ShadowDispatcher's: ``submit`` never waits, at most
``concurrency + queue_size`` copies are out at once and the rest are dropped and counted, and
a child that dies loses only its copies in flight (counted as dropped) before it is started
again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from dataclasses import dataclass, replace

from shadowserve.dataplane.model_client import ModelAnswer
from shadowserve.dataplane.noise_probes import NoiseProbes
from shadowserve.dataplane.shadow import ShadowCounts, ShadowJob, shadow_event
from shadowserve.dataplane.shadow_wire import CallOrder, CallResult, frame, read_frame
from shadowserve.dataplane.upstream import Upstream
from shadowserve.events.invocations import ErrorKind, EventBus, RepeatAnswer
from shadowserve.priority import lower_priority

log = logging.getLogger(__name__)
RESTART_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)  # seconds before each restart of a dead child


@dataclass
class _Out:
    """A copy the child is calling: its job, and the first answer while a noise probe (the
    same request once more) is out."""

    job: ShadowJob
    first: ModelAnswer | None = None
    first_finished_ns: int = 0


class ProcessShadowDispatcher:
    def __init__(
        self,
        bus: EventBus,
        counters: ShadowCounts,
        concurrency: int = 32,
        queue_size: int = 1000,
        timeout: float = 60.0,
        probes: NoiseProbes | None = None,
        niceness: int = 0,
    ) -> None:
        self._bus = bus
        self._counters = counters
        self._probes = probes or NoiseProbes(0)
        self._concurrency = concurrency
        self._limit = concurrency + queue_size
        self._timeout = timeout
        self._niceness = niceness
        self._out: dict[int, _Out] = {}
        self._next_order = 0
        self._child: asyncio.subprocess.Process | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def child_pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    async def start(self) -> None:
        await self._spawn()
        self._keeper = asyncio.create_task(self._keep())

    async def stop(self) -> None:
        self._stopping = True
        child = self._child
        if child is not None and child.stdin is not None:
            child.stdin.close()  # the child cancels its calls and exits
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        if child is not None:
            try:
                await asyncio.wait_for(child.wait(), 5)
            except TimeoutError:
                child.kill()
                await child.wait()
        for out in self._out.values():
            out.job.route.variant.pool.release()
        self._out.clear()

    def submit(self, job: ShadowJob) -> None:
        """Hand a copy over without waiting; with too many out, or no child, it is dropped
        (counted, with an event)."""
        endpoint, variant = job.leg.endpoint_name, job.leg.variant_name
        self._counters.sampled(endpoint, variant)
        child = self._child
        if child is None or child.stdin is None or len(self._out) >= self._limit:
            self._drop(job)
            return
        pool = job.route.variant.pool
        leased = pool.lease()
        if leased is None:
            answer = ModelAnswer(0, b"", None, None, 0, ErrorKind.NO_INSTANCE)
            self._finish(job, answer, time.perf_counter_ns())
            return
        self._send(child, _Out(job), _in_order(pool, leased))

    def _send(self, child: asyncio.subprocess.Process, out: _Out, urls: tuple[str, ...]) -> None:
        assert child.stdin is not None
        self._next_order += 1
        self._out[self._next_order] = out
        child.stdin.write(frame(CallOrder(self._next_order, urls, out.job.call)))

    def _drop(self, job: ShadowJob) -> None:
        self._counters.dropped(job.leg.endpoint_name, job.leg.variant_name)
        answer = ModelAnswer(0, b"", None, None, 0, ErrorKind.DROPPED)
        self._bus.publish(shadow_event(job, answer, time.perf_counter_ns()))

    def _finish(self, job: ShadowJob, answer: ModelAnswer, finished_ns: int,
                repeat: RepeatAnswer | None = None) -> None:  # fmt: skip
        self._counters.finished(job.leg.endpoint_name, job.leg.variant_name, answer)
        event = shadow_event(job, answer, finished_ns)
        self._bus.publish(replace(event, repeat=repeat) if repeat is not None else event)

    def _on_result(self, result: CallResult) -> None:
        out = self._out.pop(result.order_id, None)
        if out is None:
            return
        job = out.job
        pool = job.route.variant.pool
        pool.release()
        for url in result.unreached:
            pool.mark_down(url)
        finished_ns = time.perf_counter_ns()
        if out.first is not None:  # the noise probe's answer
            answer = result.answer
            succeeded = answer.error_kind is None and 200 <= answer.status < 300
            repeat = RepeatAnswer(answer.body, answer.content_type, succeeded)
            self._finish(job, out.first, out.first_finished_ns, repeat)
            return
        answer = result.answer
        succeeded = answer.error_kind is None and 200 <= answer.status < 300
        if succeeded and self._probes.chosen(job.leg.experiment_name):
            leased = pool.lease()
            if leased is not None and self._child is not None:
                self._counters.probed(job.leg.endpoint_name, job.leg.variant_name)
                probe = _Out(job, answer, finished_ns)
                self._send(self._child, probe, _in_order(pool, leased))
                return
            if leased is not None:
                pool.release()
        self._finish(job, answer, finished_ns)

    async def _spawn(self) -> None:
        self._child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "shadowserve.dataplane.shadow_child",
            "--concurrency", str(self._concurrency), "--timeout", str(self._timeout),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        lower_priority(self._child.pid, self._niceness)

    async def _keep(self) -> None:
        """Read the child's results; when it dies, drop its copies in flight (counted) and
        start another, backing off while it keeps dying."""
        failures = 0
        while not self._stopping:
            child = self._child
            assert child is not None
            assert child.stdout is not None
            started = time.monotonic()
            while (result := await read_frame(child.stdout)) is not None:
                assert isinstance(result, CallResult)
                self._on_result(result)
            if self._stopping:
                return
            code = await child.wait()
            self._child = None
            lost = list(self._out.values())
            self._out.clear()
            log.error("the shadow-call process exited (%s); %d copies in flight dropped",
                      code, len(lost))  # fmt: skip
            for out in lost:
                out.job.route.variant.pool.release()
                self._drop(out.job)
            failures = 0 if time.monotonic() - started > 30 else failures + 1
            await asyncio.sleep(RESTART_BACKOFF[min(failures, len(RESTART_BACKOFF) - 1)])
            await self._spawn()


def _in_order(pool: Upstream, leased: str) -> tuple[str, ...]:
    """The leased worker first, then the pool's other healthy ones (tried if it refuses)."""
    return (leased, *(url for url in pool.healthy_urls if url != leased))
