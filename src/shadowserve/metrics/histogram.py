"""A log-bucketed histogram: mergeable across minutes, small to store, and good for
quantiles with distribution-free confidence intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import binom

from shadowserve.comparison.bins import Counts

GROWTH = 1.02  # bucket width: values are known to within 2 %
_LOG_GROWTH = math.log(GROWTH)


@dataclass
class LogHistogram:
    bins: Counts = field(default_factory=Counts)

    def add(self, value: float, count: int = 1) -> None:
        self.bins.add(0 if value <= 1 else math.ceil(math.log(value) / _LOG_GROWTH), count)

    def merge(self, other: LogHistogram) -> None:
        self.bins.merge(other.bins)

    @property
    def total(self) -> int:
        return self.bins.total

    def value_at_rank(self, rank: int) -> float:
        """The ``rank``-th smallest value (1-based), as its bucket's geometric middle."""
        index = self.bins.index_at_rank(rank)
        return 0.0 if index == 0 else GROWTH ** (index - 0.5)

    def quantile(self, q: float) -> float | None:
        n = self.total
        if n == 0:
            return None
        return self.value_at_rank(max(1, math.ceil(q * n)))

    def quantile_interval(self, q: float, confidence: float = 0.95) -> tuple[float, float] | None:
        """A distribution-free confidence interval for the q-quantile from order statistics:
        the ranks between which the true quantile lies with the given confidence
        (binomial(n, q)). Too few values for the tails give the extremes."""
        n = self.total
        if n == 0:
            return None
        alpha = 1 - confidence
        low = int(binom.ppf(alpha / 2, n, q))
        high = int(binom.ppf(1 - alpha / 2, n, q)) + 1
        return self.value_at_rank(max(1, low)), self.value_at_rank(min(n, high))

    def to_json(self) -> dict[str, int]:
        return self.bins.to_json()

    @classmethod
    def from_json(cls, data: dict[str, int]) -> LogHistogram:
        return cls(Counts.from_json(data))


@dataclass
class Moments:
    """What a histogram only approximates, kept exactly: count, sum, smallest and largest
    (CloudWatch's SampleCount, Sum, Average, Minimum and Maximum)."""

    count: int = 0
    total: float = 0.0
    minimum: float | None = None
    maximum: float | None = None

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.minimum = value if self.minimum is None else min(self.minimum, value)
        self.maximum = value if self.maximum is None else max(self.maximum, value)

    def merge(self, other: Moments) -> None:
        self.count += other.count
        self.total += other.total
        for value in (other.minimum, other.maximum):
            if value is not None:
                self.minimum = value if self.minimum is None else min(self.minimum, value)
                self.maximum = value if self.maximum is None else max(self.maximum, value)

    def to_json(self) -> dict[str, float | int | None]:
        return {"count": self.count, "sum": self.total, "min": self.minimum, "max": self.maximum}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Moments | None:
        """None for rows written before moments were kept."""
        if not data:
            return None
        return cls(data["count"], data["sum"], data.get("min"), data.get("max"))

    @classmethod
    def of(cls, histogram: LogHistogram) -> Moments:
        """Moments recovered from a histogram alone (each value at its bucket's middle)."""
        moments = cls()
        for index, count in sorted(histogram.bins.bins.items()):
            value = 0.0 if index == 0 else GROWTH ** (index - 0.5)
            moments.merge(cls(count, value * count, value, value))
        return moments
