"""Large answers compared in a process of their own (#16).

Parsing an answer is one C call that holds the GIL: ``json.loads`` of a 1 MB array of numbers
takes 60 ms, all of which the event loop, in the same process, waits to run, and production's
p99 showed it. Pairs with an answer larger than ``OFFLOAD_BYTES`` are compared in a worker
process (spawned on first use; it runs only when the CPU is otherwise idle, SCHED_IDLE); the
aggregator merges each result when it is back. When it falls behind (a saturated machine),
pairs past ``MAX_IN_FLIGHT_BYTES`` go uncompared: production comes first. Smaller answers,
nearly all of them, are compared in place: sending them would cost more than parsing them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent import futures
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from shadowserve.comparison.aggregate import OutputAggregate
from shadowserve.comparison.outputs import parse_output
from shadowserve.comparison.settings import CompareSettings
from shadowserve.store.base import AggregateKey

log = logging.getLogger(__name__)

OFFLOAD_BYTES = 64 * 1024  # a JSON array of numbers this long parses in about 4 ms
MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024  # of answers sent and not compared yet

Answer = tuple[bytes, str | None]  # body, content type


def compare_pair(
    production: Answer,
    shadow: Answer,
    settings: CompareSettings,
    into: OutputAggregate | None = None,
) -> OutputAggregate:
    """One pair's output comparison, added to ``into`` or (in the worker) to an aggregate of
    its own, which the aggregator merges."""
    outputs = into if into is not None else OutputAggregate()
    ours = parse_output(*production)
    outputs.add_pair(ours, ours if shadow == production else parse_output(*shadow), settings)
    return outputs


def compare_probe(
    first: Answer,
    again: Answer,
    settings: CompareSettings,
    into: OutputAggregate | None = None,
) -> OutputAggregate:
    """One noise probe (the shadow's two answers to one request), as ``compare_pair``."""
    outputs = into if into is not None else OutputAggregate()
    outputs.add_probe(parse_output(*first), parse_output(*again), settings)
    return outputs


def yield_the_cpu() -> None:
    """In the worker: run only when nothing else wants the CPU (Linux's SCHED_IDLE), or at
    the lowest priority nice gives."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(19)


def is_large(*answers: Answer) -> bool:
    return any(len(body) > OFFLOAD_BYTES for body, _ in answers)


Comparison = Callable[[Answer, Answer, CompareSettings, OutputAggregate | None], OutputAggregate]


class OffloadedComparisons:
    """Comparisons sent to the worker process, each with the aggregate it belongs to. Used
    from the aggregator's thread only."""

    def __init__(self, idle_priority: bool = True) -> None:
        self._idle_priority = idle_priority
        self._pool: ProcessPoolExecutor | None = None
        self._pending: list[tuple[AggregateKey, int, Future[OutputAggregate]]] = []
        self._in_flight_bytes = 0
        self.sent = 0
        self.uncompared = 0  # pairs whose outputs were not compared (the worker was behind)

    def submit(
        self,
        key: AggregateKey,
        comparison: Comparison,
        first: Answer,
        second: Answer,
        settings: CompareSettings,
    ) -> None:
        size = len(first[0]) + len(second[0])
        if self._in_flight_bytes + size > MAX_IN_FLIGHT_BYTES:
            if not self.uncompared:
                log.warning("the output comparison worker is behind; large answers of some "
                            "pairs go uncompared")  # fmt: skip
            self.uncompared += 1
            return
        try:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    # Spawned, not forked: the gateway has threads and an event loop.
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=yield_the_cpu if self._idle_priority else None,
                )
            future = self._pool.submit(comparison, first, second, settings, None)
        except (OSError, RuntimeError):  # no process to be had (limits), or a broken pool
            log.exception("cannot send a comparison to the worker process")
            self.uncompared += 1
            self._restart()
            return
        self._pending.append((key, size, future))
        self._in_flight_bytes += size
        self.sent += 1

    def results(self, wait: float = 0.0) -> Iterator[tuple[AggregateKey, OutputAggregate]]:
        """The comparisons that are back, after waiting up to ``wait`` seconds for all of
        them (at stop); those still out then are given up, as uncompared."""
        if wait and self._pending:
            futures.wait([future for *_, future in self._pending], timeout=wait)
        still = []
        for key, size, future in self._pending:
            if not future.done():
                if wait:
                    self.uncompared += 1
                else:
                    still.append((key, size, future))
                continue
            self._in_flight_bytes -= size
            try:
                yield key, future.result()
            except BrokenProcessPool:  # the worker died (its memory, a signal): a new one next
                self.uncompared += 1
                self._restart()
            except Exception:
                log.exception("comparing a pair's outputs failed")
                self.uncompared += 1
        self._pending = still

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _restart(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
