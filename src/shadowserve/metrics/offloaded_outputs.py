"""Large answers compared in a process of their own (#16).

Parsing an answer is one C call that holds the GIL: ``json.loads`` of a 1 MB array of numbers
takes 60 ms, all of which the event loop, in the same process, waits to run, and production's
p99 showed it. Pairs with an answer larger than ``OFFLOAD_BYTES`` are compared in a worker
process (spawned on first use, at a lower CPU priority than the gateway's); the aggregator
merges each result when it is back. Smaller answers, nearly all of them, are compared in
place: sending them would cost more than parsing them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from shadowserve.comparison.aggregate import OutputAggregate
from shadowserve.comparison.outputs import parse_output
from shadowserve.comparison.settings import CompareSettings
from shadowserve.store.base import AggregateKey

log = logging.getLogger(__name__)

OFFLOAD_BYTES = 64 * 1024  # a JSON array of numbers this long parses in about 4 ms
MAX_IN_FLIGHT = 256  # comparisons sent and not back; past it a pair's outputs go uncompared
NICENESS = 10  # the worker yields the CPU to the gateway and production's model

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


def is_large(*answers: Answer) -> bool:
    return any(len(body) > OFFLOAD_BYTES for body, _ in answers)


Comparison = Callable[[Answer, Answer, CompareSettings, OutputAggregate | None], OutputAggregate]


class OffloadedComparisons:
    """Comparisons sent to the worker process, each with the aggregate it belongs to. Used
    from the aggregator's thread only."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._pending: list[tuple[AggregateKey, Future[OutputAggregate]]] = []
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
        if len(self._pending) >= MAX_IN_FLIGHT:
            if not self.uncompared:
                log.warning("the output comparison worker is behind; large answers of some "
                            "pairs go uncompared")  # fmt: skip
            self.uncompared += 1
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                # Spawned, not forked: the gateway has threads and an event loop.
                mp_context=multiprocessing.get_context("spawn"),
                initializer=os.nice,
                initargs=(NICENESS,),
            )
        self._pending.append((key, self._pool.submit(comparison, first, second, settings, None)))
        self.sent += 1

    def results(self, wait: bool = False) -> Iterator[tuple[AggregateKey, OutputAggregate]]:
        """The comparisons that are back (all of them, with ``wait``)."""
        still = []
        for key, future in self._pending:
            if not (wait or future.done()):
                still.append((key, future))
                continue
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
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _restart(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
