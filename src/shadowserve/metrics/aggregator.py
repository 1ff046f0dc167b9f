"""Consumes invocation events off the request path: updates live Prometheus metrics, pairs
the production and shadow legs of each mirrored request, compares them, and stores
aggregates per 10-second interval durably (so they survive restarts and outlive experiments)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from shadowserve.comparison.settings import CompareSettings
from shadowserve.domain.arns import Scope
from shadowserve.events.consumer import BATCH_SECONDS, QueuedConsumer
from shadowserve.events.invocations import ErrorKind, InvocationEvent, Role
from shadowserve.metrics.aggregates import PairAggregate, VariantAggregate
from shadowserve.metrics.offloaded_outputs import (
    Answer,
    Comparison,
    OffloadedComparisons,
    compare_pair,
    compare_probe,
    is_large,
)
from shadowserve.metrics.variant import VariantMetrics
from shadowserve.store.base import AggregateKey, Store

log = logging.getLogger(__name__)

_PairKey = tuple[Scope, str, str]  # scope, endpoint, inference id
# How an experiment's outputs are compared (its tags over the server's defaults).
SettingsFor = Callable[[Scope, str | None], CompareSettings]
# Aggregates are kept per 10 s (finer than CloudWatch's minute, so short tests have a
# timeline); reports merge them into whatever resolution they show.
INTERVAL_SECONDS = 10


@dataclass(frozen=True)
class AggregatorSettings:
    flush_seconds: float = 2.0
    # How long the first leg of a mirrored request waits for the other before it counts
    # as unpaired; beyond the shadow timeout, so slow shadows still pair.
    pair_wait_seconds: float = 90.0
    max_waiting_pairs: int = 100_000
    # The worker comparing large answers runs only on otherwise idle CPU (off: for tests on a
    # busy machine, where idle CPU may not come for a while).
    compare_at_idle_priority: bool = True
    # At stop, how long the large answers still being compared are waited for.
    compare_wait_at_stop: float = 10.0


class Aggregator(QueuedConsumer):
    def __init__(
        self,
        store: Store,
        live: VariantMetrics,
        settings: AggregatorSettings | None = None,
        compare: SettingsFor | None = None,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        super().__init__("aggregator", batch_seconds=batch_seconds)
        self._store = store
        self._compare = compare or (lambda _scope, _experiment: CompareSettings())
        self._live = live
        self._settings = settings or AggregatorSettings()
        self._variants: dict[AggregateKey, VariantAggregate] = {}
        self._pairs: dict[AggregateKey, PairAggregate] = {}
        self._waiting: dict[_PairKey, tuple[InvocationEvent, float]] = {}
        self._flushed = time.monotonic()
        self.offloaded = OffloadedComparisons(self._settings.compare_at_idle_priority)
        self.processed = 0

    def handle(self, event: InvocationEvent) -> None:
        self._consume(event)

    def tick(self) -> None:
        self._take_offloaded()
        if time.monotonic() - self._flushed >= self._settings.flush_seconds:
            self._expire()
            self._flush()

    def finish(self) -> None:
        self._expire(everything=True)
        self._take_offloaded(wait=self._settings.compare_wait_at_stop)
        self.offloaded.shutdown()
        self._flush()

    def _consume(self, event: InvocationEvent) -> None:
        self.processed += 1
        self._live.observe(event)
        key = _aggregate_key("variant", event, event.variant_name, event.role.value)
        self._variants.setdefault(key, VariantAggregate()).add(event)
        if event.role == Role.SHADOW or event.mirrored:
            self._pair(event)
        repeat = event.repeat
        if repeat is not None and event.succeeded and repeat.succeeded:
            key = _aggregate_key("pair", event, "", "")
            settings = self._compare(event.scope, event.experiment_name)
            self._pairs.setdefault(key, PairAggregate())
            self._compare_outputs(key, compare_probe, _answer(event),
                                  (repeat.body, repeat.content_type), settings)  # fmt: skip

    def _pair(self, event: InvocationEvent) -> None:
        pair_key = (event.scope, event.endpoint_name, event.inference_id)
        waiting = self._waiting.pop(pair_key, None)
        if waiting is None:
            if len(self._waiting) < self._settings.max_waiting_pairs:
                self._waiting[pair_key] = (event, time.monotonic())
            return
        other = waiting[0]
        production, shadow = (event, other) if event.role == Role.PRODUCTION else (other, event)
        key = _aggregate_key("pair", production, "", "")
        aggregate = self._pairs.setdefault(key, PairAggregate())
        if shadow.error_kind == ErrorKind.DROPPED:
            aggregate.unpaired += 1
            return
        if aggregate.add(production, shadow):
            settings = self._compare(event.scope, production.experiment_name)
            self._compare_outputs(key, compare_pair, _answer(production), _answer(shadow),
                                  settings)  # fmt: skip

    def _compare_outputs(self, key: AggregateKey, comparison: Comparison, first: Answer,
                         second: Answer, settings: CompareSettings) -> None:  # fmt: skip
        if is_large(first, second):
            self.offloaded.submit(key, comparison, first, second, settings)
        else:
            comparison(first, second, settings, self._pairs[key].outputs)

    def _take_offloaded(self, wait: float = 0.0) -> None:
        """Merge the comparisons the worker process has sent back (into the interval they
        belong to: one flushed meanwhile is added to, as flushes merge)."""
        for key, outputs in self.offloaded.results(wait):
            self._pairs.setdefault(key, PairAggregate()).outputs.merge(outputs)

    def _expire(self, everything: bool = False) -> None:
        deadline = time.monotonic() - self._settings.pair_wait_seconds
        for pair_key, (event, since) in list(self._waiting.items()):
            if everything or since < deadline:
                del self._waiting[pair_key]
                key = _aggregate_key("pair", event, "", "")
                self._pairs.setdefault(key, PairAggregate()).unpaired += 1

    def _flush(self) -> None:
        self._flushed = time.monotonic()
        if not self._variants and not self._pairs:
            return
        variants, pairs = self._variants, self._pairs
        self._variants, self._pairs = {}, {}
        try:
            with self._store.transaction() as tx:
                for key, variant in variants.items():
                    stored = tx.get_aggregate(key)
                    merged = VariantAggregate.from_json(stored) if stored else VariantAggregate()
                    merged.merge(variant)
                    tx.put_aggregate(key, merged.to_json())
                for key, pair in pairs.items():
                    stored = tx.get_aggregate(key)
                    merged_pair = PairAggregate.from_json(stored) if stored else PairAggregate()
                    merged_pair.merge(pair)
                    tx.put_aggregate(key, merged_pair.to_json())
        except Exception:
            log.exception("storing metrics failed; keeping them for the next flush")
            for key, variant in variants.items():
                self._variants.setdefault(key, VariantAggregate()).merge(variant)
            for key, pair in pairs.items():
                self._pairs.setdefault(key, PairAggregate()).merge(pair)


def _answer(event: InvocationEvent) -> Answer:
    return event.response_body, event.response_content_type


def _aggregate_key(kind: str, event: InvocationEvent, variant: str, role: str) -> AggregateKey:
    return AggregateKey(
        kind=kind,
        scope=event.scope,
        endpoint=event.endpoint_name,
        variant=variant,
        role=role,
        experiment=event.experiment_name or "",
        start=int(event.time.timestamp() // INTERVAL_SECONDS * INTERVAL_SECONDS),
    )
