"""How sure a p99 ratio from an alternated A/B comparison is.

On a shared 2-core host one scheduler hiccup moves a short run's p99 by a factor of two, so a
single ratio says little (rounds of the same cell read x0.6 to x2.7). The runs of an
alternation are kept apart, pair by pair; resampling whole pairs with replacement (a
bootstrap that keeps each pair's shared host conditions together) gives an interval for
p99(B) / p99(A) over the pooled requests. Two runs of `make bench` agree when their
intervals overlap; a lever is shown to help when its interval lies below the other's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.loadgen import Alternation

RESAMPLES = 1000
LEVEL = 0.90  # the central share of the resampled ratios the interval holds


@dataclass(frozen=True)
class RatioEstimate:
    ratio: float  # p99 of second / p99 of first, all requests pooled
    low: float
    high: float

    def shown(self) -> str:
        return f"x{self.ratio:.2f} [{self.low:.2f} to {self.high:.2f}]"

    def as_json(self) -> dict[str, float]:
        return {"ratio": round(self.ratio, 3), "low": round(self.low, 3),
                "high": round(self.high, 3)}  # fmt: skip


def p99_ratio(alternation: Alternation, seed: int = 0) -> RatioEstimate:
    firsts = [np.asarray(run.values, dtype=np.float64) for run in alternation.first]
    seconds = [np.asarray(run.values, dtype=np.float64) for run in alternation.second]
    ratio = _ratio(firsts, seconds, np.arange(len(firsts)))
    rng = np.random.default_rng(seed)
    resampled = [_ratio(firsts, seconds, rng.integers(0, len(firsts), len(firsts)))
                 for _ in range(RESAMPLES)]  # fmt: skip
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return RatioEstimate(ratio, float(low), float(high))


def _ratio(firsts: list[np.ndarray], seconds: list[np.ndarray], chosen: np.ndarray) -> float:
    first = np.concatenate([firsts[i] for i in chosen])
    second = np.concatenate([seconds[i] for i in chosen])
    return float(np.percentile(second, 99) / max(np.percentile(first, 99), 1.0))
