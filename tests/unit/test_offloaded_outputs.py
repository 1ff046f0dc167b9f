"""Pairs with large answers are compared in the worker process, and come out as they would
have in place: same counts, same fields, same disagreements."""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from shadowserve.comparison.aggregate import OutputAggregate
from shadowserve.comparison.settings import CompareSettings
from shadowserve.domain.arns import Scope
from shadowserve.events.invocations import InvocationEvent, RepeatAnswer, Role
from shadowserve.metrics.aggregates import PairAggregate
from shadowserve.metrics.aggregator import Aggregator, AggregatorSettings
from shadowserve.metrics.offloaded_outputs import (
    OFFLOAD_BYTES,
    compare_pair,
    compare_probe,
    is_large,
    yield_the_cpu,
)
from shadowserve.metrics.variant import VariantMetrics
from shadowserve.store.memory import MemoryStore

SCOPE = Scope("123456789012", "us-east-1")
JSON = "application/json"
TIME = datetime(2026, 12, 3, 7, 0, 1, tzinfo=UTC)  # every pair in one 10 s interval


def _answer(index: int, label: str) -> bytes:
    scores = [round((index * 7 + position) % 100 / 100, 2) for position in range(20_000)]
    return json.dumps({"label": label, "scores": scores}).encode()


def _leg(role: Role, index: int, body: bytes, repeat: bytes | None = None) -> InvocationEvent:
    again = RepeatAnswer(repeat, JSON, True) if repeat is not None else None
    return InvocationEvent(
        scope=SCOPE, endpoint_name="ep", variant_name=role.value, role=role,
        experiment_name="exp", inference_id=f"id-{index}", inference_id_from_caller=False,
        request_body=b"{}", request_content_type=JSON, accept=None, response_body=body,
        response_content_type=JSON, status=200, model_latency_us=1000 + index,
        overhead_latency_us=100, error_kind=None, mirrored=role == Role.PRODUCTION,
        repeat=again, time=TIME,
    )  # fmt: skip


def test_large_answers_are_compared_in_the_worker_as_they_would_be_in_place() -> None:
    pairs = []
    for index in range(12):
        ours = _answer(index, "cat")
        theirs = ours if index % 3 else _answer(index, "dog")  # every third disagrees
        repeat = theirs if index % 4 == 0 else None
        pairs.append((_leg(Role.PRODUCTION, index, ours), _leg(Role.SHADOW, index, theirs, repeat)))
    assert is_large((pairs[0][0].response_body, JSON))
    assert len(pairs[0][0].response_body) > OFFLOAD_BYTES

    store = MemoryStore()
    # At normal priority: on a busy test machine idle CPU may be long in coming.
    settings = AggregatorSettings(compare_at_idle_priority=False, compare_wait_at_stop=60)
    aggregator = Aggregator(store, VariantMetrics(CollectorRegistry()), settings)
    aggregator.start()
    for production, shadow in pairs:
        aggregator(production)
        aggregator(shadow)
    aggregator.stop()  # waits for the worker's answers, then flushes

    with store.transaction() as tx:
        ((_, stored),) = tx.find_aggregates("pair", SCOPE)
    found = PairAggregate.from_json(stored)
    expected = OutputAggregate()
    compare = CompareSettings()
    for production, shadow in pairs:
        answers = [(leg.response_body, JSON) for leg in (production, shadow)]
        compare_pair(answers[0], answers[1], compare, expected)
        if shadow.repeat is not None:
            compare_probe(answers[1], (shadow.repeat.body, JSON), compare, expected)
    assert aggregator.offloaded.sent == 15 and aggregator.offloaded.uncompared == 0
    assert found.pairs == found.both_succeeded == 12
    assert found.outputs.compared == 12 and found.outputs.probes == 3
    assert found.outputs.to_json() == expected.to_json()
    assert sum(found.outputs.signatures.values()) == 4  # the four pairs whose label differs


def test_the_worker_runs_only_on_idle_cpu() -> None:
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn, initializer=yield_the_cpu) as worker:
        assert worker.submit(os.sched_getscheduler, 0).result() == os.SCHED_IDLE
