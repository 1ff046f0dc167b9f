"""SageMaker's invocation metrics as CloudWatch states them, read off stored aggregates.

SageMaker publishes one sample per invocation: 1 for ``Invocations``, 1/instances for
``InvocationsPerInstance``, 0 or 1 for the error metrics, microseconds for the latencies.
Every statistic CloudWatch offers (SampleCount, Sum, Average, Minimum, Maximum, pNN) is
computed here over those samples, from a merged ``VariantAggregate``: exactly from counts
and moments, and the percentiles of latencies from the histogram (within its 2 % buckets).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from shadowserve.metrics.aggregates import VariantAggregate
from shadowserve.metrics.histogram import LogHistogram, Moments

NAMESPACE = "AWS/SageMaker"
DIMENSIONS = ("EndpointName", "VariantName")
BASIC_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,10})?|100(\.0{1,10})?)$")


@dataclass(frozen=True)
class Samples:
    """The samples of one metric over some intervals, as far as statistics need them."""

    moments: Moments
    quantile: Callable[[float], float | None]

    def statistic(self, name: str) -> float | None:
        """One CloudWatch statistic; None where there are no samples."""
        moments = self.moments
        if moments.count == 0:
            return None
        if name == "SampleCount":
            return float(moments.count)
        if name == "Sum":
            return moments.total
        if name == "Average":
            return moments.total / moments.count
        if name == "Minimum":
            return moments.minimum
        if name == "Maximum":
            return moments.maximum
        return self.quantile(percentile_of(name))


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    samples: Callable[[VariantAggregate], Samples]


def is_percentile(statistic: str) -> bool:
    return _PERCENTILE.match(statistic) is not None


def percentile_of(statistic: str) -> float:
    return float(statistic[1:]) / 100


def _constant(count: int, value: float) -> Samples:
    moments = Moments(count, count * value, value, value) if count else Moments()
    return Samples(moments, lambda _q: value if count else None)


def _binary(count: int, ones: int) -> Samples:
    """``count`` samples of which ``ones`` are 1 and the rest 0 (an error metric)."""
    if count == 0:
        return Samples(Moments(), lambda _q: None)
    moments = Moments(count, float(ones), 0.0 if ones < count else 1.0, 1.0 if ones else 0.0)

    def quantile(q: float) -> float:
        return 1.0 if max(1, math.ceil(q * count)) > count - ones else 0.0

    return Samples(moments, quantile)


def _latency(histogram: LogHistogram, moments: Moments) -> Samples:
    def quantile(q: float) -> float | None:
        value = histogram.quantile(q)
        if value is None:
            return None
        # A bucket's middle may lie just outside what was seen; the extremes are exact.
        low = moments.minimum if moments.minimum is not None else value
        high = moments.maximum if moments.maximum is not None else value
        if q <= 0 or q >= 1:
            return low if q <= 0 else high
        return min(max(value, low), high)

    return Samples(moments, quantile)


def _per_instance(aggregate: VariantAggregate) -> Samples:
    # Only the sum is stored; instance counts rarely change within an interval, so every
    # sample is taken to be the average one.
    count = aggregate.invocations
    return _constant(count, aggregate.invocations_per_instance / count if count else 0.0)


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("Invocations", "None", lambda a: _constant(a.invocations, 1.0)),
        Metric("InvocationsPerInstance", "None", _per_instance),
        Metric("Invocation4XXErrors", "None", lambda a: _binary(a.invocations, a.errors_4xx)),
        Metric("Invocation5XXErrors", "None", lambda a: _binary(a.invocations, a.errors_5xx)),
        Metric("InvocationModelErrors", "None", lambda a: _binary(a.invocations, a.model_errors)),
        Metric(
            "ModelLatency",
            "Microseconds",
            lambda a: _latency(a.model_latency, a.model_latency_moments),
        ),
        Metric(
            "OverheadLatency",
            "Microseconds",
            lambda a: _latency(a.overhead_latency, a.overhead_latency_moments),
        ),
    )
}
