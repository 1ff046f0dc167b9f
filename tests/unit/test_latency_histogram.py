"""Latency quantiles with intervals, on known numbers."""

from __future__ import annotations

import random

from shadowserve.metrics.histogram import LogHistogram


def test_quantiles_and_their_intervals_cover_the_truth() -> None:
    histogram = LogHistogram()
    rng = random.Random(7)
    values = [rng.uniform(1_000, 11_000) for _ in range(5_000)]
    for value in values:
        histogram.add(value)
    truth = sorted(values)
    for q in (0.5, 0.9, 0.99):
        exact = truth[int(q * len(truth))]
        estimate = histogram.quantile(q)
        low, high = histogram.quantile_interval(q)  # type: ignore[misc]
        assert estimate is not None
        assert abs(estimate - exact) / exact < 0.03
        assert low * 0.98 <= exact <= high * 1.02
        assert low <= estimate <= high
    merged = LogHistogram.from_json(histogram.to_json())
    merged.merge(histogram)
    assert merged.total == 10_000
    assert LogHistogram().quantile(0.5) is None
