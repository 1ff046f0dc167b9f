"""How sure a p99 ratio from an alternated A/B comparison is.

On a shared 2-core host one scheduler hiccup moves a short run's p99 by a factor of two, so a
single ratio says little (rounds of the same cell read x0.6 to x2.7). The runs of an
alternation are kept apart, pair by pair; resampling whole pairs with replacement (a
bootstrap that keeps each pair's shared host conditions together) gives an interval for
p99(B) / p99(A) over the pooled requests. Two runs of `make bench` agree when their
intervals overlap; a lever is shown to help when its interval lies below the other's.
The same resampling gives the gateway's p99 overhead (p99(B) - p99(A), gateway vs direct) an
interval: one run's figure alone moved between 0.5 and 1.6 ms for the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.loadgen import Alternation

RESAMPLES = 1000
LEVEL = 0.90  # the central share of the resampled ratios the interval holds


@dataclass(frozen=True)
class Estimate:
    """A statistic of all pairs pooled, and its interval over pairs resampled whole."""

    key: str  # its name in the results: "ratio" (p99 of second / first) or "ms" (second - first)
    value: float
    low: float
    high: float

    def as_json(self) -> dict[str, float]:
        return {self.key: round(self.value, 3), "low": round(self.low, 3),
                "high": round(self.high, 3)}  # fmt: skip


Statistic = Callable[[np.ndarray, np.ndarray], float]


def p99_ratio(alternation: Alternation, seed: int = 0) -> Estimate:
    return Estimate("ratio", *_bootstrapped(alternation, _ratio, seed))


def p99_difference(alternation: Alternation, seed: int = 0) -> Estimate:
    """p99 of second minus p99 of first, in ms."""
    return Estimate("ms", *_bootstrapped(alternation, _difference_ms, seed))


def _bootstrapped(alternation: Alternation, statistic: Statistic,
                  seed: int) -> tuple[float, float, float]:  # fmt: skip
    """The statistic over all pairs, and its interval over pairs resampled whole."""
    firsts = [np.asarray(run.values, dtype=np.float64) for run in alternation.first]
    seconds = [np.asarray(run.values, dtype=np.float64) for run in alternation.second]

    def pooled(chosen: np.ndarray) -> float:
        return statistic(np.concatenate([firsts[i] for i in chosen]),
                         np.concatenate([seconds[i] for i in chosen]))  # fmt: skip

    value = pooled(np.arange(len(firsts)))
    rng = np.random.default_rng(seed)
    resampled = [pooled(rng.integers(0, len(firsts), len(firsts))) for _ in range(RESAMPLES)]
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return value, float(low), float(high)


def _ratio(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.percentile(second, 99) / max(np.percentile(first, 99), 1.0))


def _difference_ms(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.percentile(second, 99) - np.percentile(first, 99)) / 1000  # values in µs
