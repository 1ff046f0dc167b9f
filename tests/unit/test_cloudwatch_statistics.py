"""CloudWatch's statistics over SageMaker's one-sample-per-invocation metrics, computed from
merged aggregates (pure; the wire is tested in tests/dataplane/test_cloudwatch.py)."""

from __future__ import annotations

import numpy as np
import pytest

from shadowserve.metrics.aggregates import VariantAggregate
from shadowserve.metrics.cloudwatch import METRICS, is_percentile
from shadowserve.metrics.histogram import LogHistogram, Moments


def _aggregate(latencies: list[float], errors_5xx: int) -> VariantAggregate:
    aggregate = VariantAggregate(invocations=len(latencies), errors_5xx=errors_5xx,
                                 invocations_per_instance=len(latencies) / 2)  # fmt: skip
    for value in latencies:
        aggregate.model_latency.add(value)
        aggregate.model_latency_moments.add(value)
    return aggregate


def test_error_metric_is_a_zero_or_one_sample_per_invocation() -> None:
    samples = METRICS["Invocation5XXErrors"].samples(_aggregate([1.0] * 10, errors_5xx=3))
    names = ("SampleCount", "Sum", "Average", "Minimum", "Maximum", "p50", "p70", "p71")
    stats = {name: samples.statistic(name) for name in names}
    assert stats == {"SampleCount": 10, "Sum": 3, "Average": 0.3, "Minimum": 0, "Maximum": 1,
                     "p50": 0, "p70": 0, "p71": 1}  # fmt: skip
    none = METRICS["Invocation5XXErrors"].samples(_aggregate([1.0] * 4, errors_5xx=0))
    assert (none.statistic("Maximum"), none.statistic("p99")) == (0, 0)
    assert METRICS["Invocations"].samples(VariantAggregate()).statistic("Sum") is None


def test_latency_statistics_exact_where_they_can_be_and_percentiles_within_a_bucket() -> None:
    values = list(np.random.default_rng(7).lognormal(8, 1, 5_000))
    halves = _aggregate(values[:2_500], 0)
    halves.merge(_aggregate(values[2_500:], 0))  # stored intervals merge into one period
    samples = METRICS["ModelLatency"].samples(halves)
    assert samples.statistic("Sum") == pytest.approx(sum(values))
    assert samples.statistic("Average") == pytest.approx(np.mean(values))
    assert samples.statistic("Minimum") == min(values)
    assert samples.statistic("Maximum") == max(values)
    for q in (50, 90, 99, 99.9):  # the nearest-rank percentile, within its 2 % bucket
        expected = np.percentile(values, q, method="inverted_cdf")
        assert samples.statistic(f"p{q}") == pytest.approx(expected, rel=0.02)
    assert samples.statistic("p100") == max(values) and samples.statistic("p0") == min(values)
    per_instance = METRICS["InvocationsPerInstance"].samples(halves)
    assert per_instance.statistic("Sum") == 2_500 and per_instance.statistic("Average") == 0.5


def test_rows_stored_before_moments_recover_them_from_the_histogram() -> None:
    histogram = LogHistogram()
    for value in (100.0, 200.0, 400.0):
        histogram.add(value)
    old_row = {"invocations": 3, "model_latency": histogram.to_json()}
    moments = VariantAggregate.from_json(old_row).model_latency_moments
    assert moments.count == 3
    assert moments.total == pytest.approx(700, rel=0.02)
    assert Moments.from_json(None) is None


def test_percentile_names() -> None:
    assert all(is_percentile(name) for name in ("p0", "p50", "p99", "p99.9", "p100"))
    assert not any(is_percentile(name) for name in ("p101", "tm99", "Median", "p", "p-1"))
