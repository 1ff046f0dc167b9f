"""Fixed bins, so histograms made anywhere (another interval, another process, a recompute
from capture) merge by adding counts.

- Scores: 100 linear bins over [0, 1] (probabilities get 0.01 resolution), and geometric bins
  5 % wide beyond, on either side, so any real number has a bin.
- Differences (|a - b|, relative differences): geometric bins 10 % wide from 1e-12 up, and a
  bin of their own for exact zeros.
- Log ratios (latency shadow / production per request): linear bins 1 % wide in ln space.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

SCORE_LINEAR_BINS = 100
_SCORE_GROWTH = math.log(1.05)
_DIFF_GROWTH = math.log(1.1)
DIFF_ZERO = -(10**6)  # the bin of exact zeros
_DIFF_FLOOR = 1e-12
LOG_RATIO_WIDTH = 0.01


def score_bin(value: float) -> int:
    if 0.0 <= value <= 1.0:
        return min(int(value * SCORE_LINEAR_BINS), SCORE_LINEAR_BINS - 1)
    if value > 1.0:
        return SCORE_LINEAR_BINS + int(math.log(value) / _SCORE_GROWTH)
    return -1 - int(math.log1p(-value) / _SCORE_GROWTH)


def score_bin_range(index: int) -> tuple[float, float]:
    if 0 <= index < SCORE_LINEAR_BINS:
        return index / SCORE_LINEAR_BINS, (index + 1) / SCORE_LINEAR_BINS
    if index >= SCORE_LINEAR_BINS:
        step = index - SCORE_LINEAR_BINS
        return math.exp(step * _SCORE_GROWTH), math.exp((step + 1) * _SCORE_GROWTH)
    step = -1 - index
    return -math.expm1((step + 1) * _SCORE_GROWTH), -math.expm1(step * _SCORE_GROWTH)


def diff_bin(value: float) -> int:
    if value <= 0.0:
        return DIFF_ZERO
    return math.floor(math.log(max(value, _DIFF_FLOOR)) / _DIFF_GROWTH)


def diff_bin_middle(index: int) -> float:
    if index == DIFF_ZERO:
        return 0.0
    return math.exp((index + 0.5) * _DIFF_GROWTH)


def log_ratio_bin(log_ratio: float) -> int:
    return math.floor(log_ratio / LOG_RATIO_WIDTH)


def log_ratio_bin_middle(index: int) -> float:
    return (index + 0.5) * LOG_RATIO_WIDTH


@dataclass
class Counts:
    """A sparse histogram: bin index → count."""

    bins: dict[int, int] = field(default_factory=dict)

    def add(self, index: int, count: int = 1) -> None:
        self.bins[index] = self.bins.get(index, 0) + count

    def merge(self, other: Counts) -> None:
        for index, count in other.bins.items():
            self.add(index, count)

    @property
    def total(self) -> int:
        return sum(self.bins.values())

    def index_at_rank(self, rank: int) -> int:
        """The bin holding the ``rank``-th smallest value (1-based)."""
        seen = 0
        for index in sorted(self.bins):
            seen += self.bins[index]
            if seen >= rank:
                return index
        raise ValueError("rank beyond the histogram")

    def to_json(self) -> dict[str, int]:
        return {str(index): count for index, count in self.bins.items()}

    @classmethod
    def from_json(cls, data: dict[str, int] | None) -> Counts:
        return cls({int(index): int(count) for index, count in (data or {}).items()})
