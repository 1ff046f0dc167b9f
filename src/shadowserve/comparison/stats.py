"""The statistics the report shows, computed from aggregates (sums and fixed-bin counts), so
they are exact after any number of merges — up to the bin width where bins are used."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from typing import Any

from scipy import stats

from shadowserve.comparison.bins import Counts

PSI_BINS = 10
PSI_FLOOR = 1e-4  # share given to an empty bin, so PSI stays finite


def proportion(successes: int, trials: int, confidence: float) -> dict[str, Any]:
    """A rate with its Wilson score interval."""
    if trials == 0:
        return {"rate": None, "ci": None, "count": 0, "of": 0}
    interval = stats.binomtest(successes, trials).proportion_ci(confidence, method="wilson")
    return {
        "rate": successes / trials,
        "ci": [float(interval.low), float(interval.high)],
        "count": successes,
        "of": trials,
    }


def mean_interval(
    n: int, total: float, total_sq: float, confidence: float
) -> tuple[float, float, float, float] | None:
    """Mean, CI and a two-sided one-sample t-test against 0, from n, Σx and Σx²."""
    if n < 2:
        return None
    mean = total / n
    variance = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    error = math.sqrt(variance / n)
    if error == 0:
        return mean, mean, mean, 0.0 if mean != 0 else 1.0
    t_value = mean / error
    p_value = float(2 * stats.t.sf(abs(t_value), n - 1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * error
    return mean, mean - half, mean + half, p_value


def quantile_index(counts: Counts, q: float) -> int | None:
    n = counts.total
    if n == 0:
        return None
    return counts.index_at_rank(max(1, math.ceil(q * n)))


def median_interval(counts: Counts, confidence: float) -> tuple[int, int, int] | None:
    """The median's bin and a distribution-free interval for it (order statistics at the
    binomial(n, ½) ranks), as bin indexes."""
    n = counts.total
    if n == 0:
        return None
    alpha = 1 - confidence
    low = int(stats.binom.ppf(alpha / 2, n, 0.5))
    high = int(stats.binom.ppf(1 - alpha / 2, n, 0.5)) + 1
    return (
        counts.index_at_rank(max(1, math.ceil(n / 2))),
        counts.index_at_rank(max(1, low)),
        counts.index_at_rank(min(n, high)),
    )


def quantiles(counts: Counts, middle: Callable[[int], float]) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)):
        index = quantile_index(counts, q)
        found[name] = None if index is None else middle(index)
    return found


def pearson(n: int, sx: float, sy: float, sxx: float, syy: float, sxy: float) -> float | None:
    if n < 3:
        return None
    cov = sxy - sx * sy / n
    vx, vy = sxx - sx * sx / n, syy - sy * sy / n
    if vx <= 0 or vy <= 0:
        return None
    return max(-1.0, min(1.0, cov / math.sqrt(vx * vy)))


def spearman(joint: dict[tuple[int, int], int]) -> float | None:
    """Spearman's rho from a joint histogram: each bin's values share its midrank (ties
    within a bin), then Pearson's r of the ranks, weighted by the counts."""
    ranks_x = _midranks(_marginal(joint, 0))
    ranks_y = _midranks(_marginal(joint, 1))
    n = sx = sy = sxx = syy = sxy = 0.0
    for (x, y), count in joint.items():
        rx, ry = ranks_x[x], ranks_y[y]
        n += count
        sx += count * rx
        sy += count * ry
        sxx += count * rx * rx
        syy += count * ry * ry
        sxy += count * rx * ry
    return pearson(int(n), sx, sy, sxx, syy, sxy)


def ks_two_sample(first: Counts, second: Counts) -> dict[str, float] | None:
    """Two-sample Kolmogorov-Smirnov on binned values: D is the largest gap between the two
    cumulative shares at a bin edge; p from the asymptotic distribution."""
    n, m = first.total, second.total
    if n == 0 or m == 0:
        return None
    seen_first = seen_second = 0
    statistic = 0.0
    for index in sorted(first.bins.keys() | second.bins.keys()):
        seen_first += first.bins.get(index, 0)
        seen_second += second.bins.get(index, 0)
        statistic = max(statistic, abs(seen_first / n - seen_second / m))
    effective = n * m / (n + m)
    p_value = float(stats.kstwobign.sf(statistic * math.sqrt(effective)))
    return {"statistic": statistic, "p_value": min(1.0, p_value)}


def psi(expected: Counts, actual: Counts) -> float | None:
    """Population stability index of ``actual`` against ``expected`` over about ten groups of
    bins that each hold a tenth of ``expected`` (fine bins grouped at its deciles; the first
    and last groups reach out to minus and plus infinity)."""
    n, m = expected.total, actual.total
    if n == 0 or m == 0:
        return None
    edges = _decile_edges(expected)
    shares_expected, shares_actual = [0] * len(edges), [0] * len(edges)
    for counts, shares in ((expected, shares_expected), (actual, shares_actual)):
        for index, count in counts.bins.items():
            shares[min(bisect.bisect_left(edges, index), len(edges) - 1)] += count
    total = 0.0
    for ours, theirs in zip(shares_expected, shares_actual, strict=True):
        share_expected, share_actual = max(ours / n, PSI_FLOOR), max(theirs / m, PSI_FLOOR)
        total += (share_actual - share_expected) * math.log(share_actual / share_expected)
    return total


def cohen_kappa(confusion: dict[tuple[str, str], int]) -> float | None:
    n = sum(confusion.values())
    if n == 0:
        return None
    rows, columns = _marginal(confusion, 0), _marginal(confusion, 1)
    observed = sum(count for (a, b), count in confusion.items() if a == b) / n
    expected = sum(rows[label] * columns.get(label, 0) for label in rows) / (n * n)
    if expected >= 1:
        return 1.0 if observed >= 1 else None
    return (observed - expected) / (1 - expected)


def _marginal(joint: dict[tuple[Any, Any], int], side: int) -> dict[Any, int]:
    found: dict[Any, int] = {}
    for key, count in joint.items():
        found[key[side]] = found.get(key[side], 0) + count
    return found


def _midranks(counts: dict[int, int]) -> dict[int, float]:
    ranks, below = {}, 0
    for index in sorted(counts):
        ranks[index] = below + (counts[index] + 1) / 2
        below += counts[index]
    return ranks


def _decile_edges(expected: Counts) -> list[int]:
    """The last bin of each run of bins holding about a tenth of ``expected``."""
    n, seen = expected.total, 0
    edges: list[int] = []
    for index in sorted(expected.bins):
        seen += expected.bins[index]
        if seen >= n * (len(edges) + 1) / PSI_BINS:
            edges.append(index)
    return edges


def weighted_mean(items: Iterable[tuple[float, int]]) -> float | None:
    total = count = 0.0
    for value, weight in items:
        total += value * weight
        count += weight
    return total / count if count else None
