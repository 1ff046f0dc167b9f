"""Aggregates per time interval: what one variant did, and how the two legs of requests
compared.

Both merge by addition, so intervals can be combined in any order into the totals and the
timeline a report needs; the latency histograms keep quantiles (with intervals) computable
after merging.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from shadowserve.comparison.aggregate import OutputAggregate
from shadowserve.comparison.bins import Counts, log_ratio_bin
from shadowserve.events.invocations import ErrorKind, InvocationEvent
from shadowserve.metrics.histogram import LogHistogram, Moments


@dataclass
class VariantAggregate:
    invocations: int = 0
    invocations_per_instance: float = 0.0
    errors_4xx: int = 0
    errors_5xx: int = 0
    model_errors: int = 0  # any answer but 2xx, including timeouts and lost connections
    timeouts: int = 0
    dropped: int = 0  # shadow copies never sent (bound reached)
    model_latency: LogHistogram = field(default_factory=LogHistogram)
    overhead_latency: LogHistogram = field(default_factory=LogHistogram)
    # Exact sums and extremes beside the histograms, for CloudWatch's statistics.
    model_latency_moments: Moments = field(default_factory=Moments)
    overhead_latency_moments: Moments = field(default_factory=Moments)

    def add(self, event: InvocationEvent) -> None:
        if event.error_kind == ErrorKind.DROPPED:
            self.dropped += 1
            return
        self.invocations += 1
        self.invocations_per_instance += 1 / max(1, event.instance_count)
        self.errors_4xx += 400 <= event.status < 500
        self.errors_5xx += 500 <= event.status < 600
        self.model_errors += not event.succeeded
        self.timeouts += event.error_kind == ErrorKind.TIMEOUT
        if event.status:
            self.model_latency.add(event.model_latency_us)
            self.model_latency_moments.add(event.model_latency_us)
        self.overhead_latency.add(event.overhead_latency_us)
        self.overhead_latency_moments.add(event.overhead_latency_us)

    def merge(self, other: VariantAggregate) -> None:
        _add_numbers(self, other)
        self.model_latency.merge(other.model_latency)
        self.overhead_latency.merge(other.overhead_latency)
        self.model_latency_moments.merge(other.model_latency_moments)
        self.overhead_latency_moments.merge(other.overhead_latency_moments)

    def to_json(self) -> dict[str, Any]:
        body = _numbers(self)
        for name in _LATENCIES:
            body[name] = getattr(self, name).to_json()
            body[f"{name}_moments"] = getattr(self, f"{name}_moments").to_json()
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> VariantAggregate:
        known = {f.name for f in fields(cls)} - set(_LATENCIES)
        aggregate = cls(**{k: v for k, v in body.items() if k in known and "_latency" not in k})
        for name in _LATENCIES:
            histogram = LogHistogram.from_json(body.get(name, {}))
            setattr(aggregate, name, histogram)
            # Rows stored before moments were kept: recovered from the histogram.
            moments = Moments.from_json(body.get(f"{name}_moments")) or Moments.of(histogram)
            setattr(aggregate, f"{name}_moments", moments)
        return aggregate


_LATENCIES = ("model_latency", "overhead_latency")


@dataclass
class PairAggregate:
    """Requests both variants saw: statuses, the output comparison (per field, by kind), and
    latency per request — moments for a paired t-test and a histogram of log ratios for the
    median ratio with a distribution-free interval."""

    pairs: int = 0
    unpaired: int = 0  # copies whose shadow leg never answered (dropped, lost, timed out)
    status_agree: int = 0
    both_succeeded: int = 0
    latency_pairs: int = 0
    latency_diff_sum: float = 0.0  # shadow - production model latency, microseconds
    latency_diff_sumsq: float = 0.0
    latency_log_ratio_sum: float = 0.0  # ln(shadow / production)
    latency_log_ratio_sumsq: float = 0.0
    latency_log_ratios: Counts = field(default_factory=Counts)
    outputs: OutputAggregate = field(default_factory=OutputAggregate)

    def add(self, production: InvocationEvent, shadow: InvocationEvent) -> bool:
        """Count the pair; True when both legs succeeded, and so their outputs are to be
        compared (``compare_pair`` into ``outputs``, or in the worker process and merged)."""
        self.pairs += 1
        self.status_agree += production.status == shadow.status
        if not (production.succeeded and shadow.succeeded):
            return False
        self.both_succeeded += 1
        diff = shadow.model_latency_us - production.model_latency_us
        ratio = math.log(max(shadow.model_latency_us, 1) / max(production.model_latency_us, 1))
        self.latency_pairs += 1
        self.latency_diff_sum += diff
        self.latency_diff_sumsq += diff * diff
        self.latency_log_ratio_sum += ratio
        self.latency_log_ratio_sumsq += ratio * ratio
        self.latency_log_ratios.add(log_ratio_bin(ratio))
        return True

    def merge(self, other: PairAggregate) -> None:
        _add_numbers(self, other)
        self.latency_log_ratios.merge(other.latency_log_ratios)
        self.outputs.merge(other.outputs)

    def to_json(self) -> dict[str, Any]:
        body = _numbers(self)
        body["latency_log_ratios"] = self.latency_log_ratios.to_json()
        body["outputs"] = self.outputs.to_json()
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> PairAggregate:
        # Numbers only from what this version knows: rows written before the per-field
        # comparison (labels, scores, outputs_agree …) keep their counts and latencies.
        known = {f.name for f in fields(cls)} - {"latency_log_ratios", "outputs"}
        aggregate = cls(**{k: v for k, v in body.items() if k in known})
        aggregate.latency_log_ratios = Counts.from_json(body.get("latency_log_ratios"))
        aggregate.outputs = OutputAggregate.from_json(body.get("outputs"))
        return aggregate


def _numbers(value: object) -> dict[str, Any]:
    return {
        f.name: getattr(value, f.name)
        for f in fields(value)  # type: ignore[arg-type]
        if isinstance(getattr(value, f.name), int | float)
    }


def _add_numbers(into: object, other: object) -> None:
    for name, number in _numbers(other).items():
        setattr(into, name, getattr(into, name) + number)
