"""The comparison report of an experiment: both variants side by side, the paired
comparison with its statistics, and a verdict against documented thresholds.

Pure: it is computed from stored aggregates, so it reads the same while the
experiment runs, after it ends and after a restart.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from scipy import stats

from shadowserve.metrics.aggregates import PairAggregate, VariantAggregate
from shadowserve.metrics.histogram import LogHistogram


@dataclass(frozen=True)
class Thresholds:
    """When the shadow may be promoted (docs/report.md explains each)."""

    min_pairs: int = 100
    min_output_agreement: float = 0.95
    max_error_rate_increase: float = 0.01
    max_latency_increase: float = 0.20  # shadow p99 at most 20 % above production's
    confidence: float = 0.95


class Decision(StrEnum):
    PROMOTE = "promote"
    DONT_PROMOTE = "dont_promote"
    NOT_ENOUGH_DATA = "not_enough_data"


@dataclass(frozen=True)
class SeriesPoint:
    start: int  # seconds since the epoch
    variants: dict[str, VariantAggregate]  # role → aggregate
    pairs: PairAggregate | None


def build_report(
    experiment: dict[str, Any],
    totals: dict[str, VariantAggregate],
    pairs: PairAggregate,
    series: list[SeriesPoint],
    thresholds: Thresholds,
) -> dict[str, Any]:
    confidence = thresholds.confidence
    variants = {role: _variant(total, confidence) for role, total in totals.items()}
    comparison = _comparison(pairs, confidence)
    return {
        "experiment": experiment,
        "variants": variants,
        "comparison": comparison,
        "verdict": _verdict(variants, comparison, pairs, thresholds),
        "timeline": [_point(point) for point in series],
    }


def _variant(total: VariantAggregate, confidence: float) -> dict[str, Any]:
    return {
        "invocations": total.invocations,
        "invocations_per_instance": round(total.invocations_per_instance, 3),
        "invocation_4xx_errors": total.errors_4xx,
        "invocation_5xx_errors": total.errors_5xx,
        "invocation_model_errors": total.model_errors,
        "timeouts": total.timeouts,
        "dropped": total.dropped,
        "error_rate": _proportion(total.model_errors, total.invocations, confidence),
        "model_latency_ms": _quantiles(total.model_latency, confidence),
        "overhead_latency_ms": _quantiles(total.overhead_latency, confidence),
    }


def _quantiles(histogram: LogHistogram, confidence: float) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        value = histogram.quantile(q)
        interval = histogram.quantile_interval(q, confidence)
        result[name] = {
            "value": _ms(value),
            "ci": [_ms(interval[0]), _ms(interval[1])] if interval else None,
        }
    return result


def _comparison(pairs: PairAggregate, confidence: float) -> dict[str, Any]:
    return {
        "pairs": pairs.pairs,
        "unpaired": pairs.unpaired,
        "both_succeeded": pairs.both_succeeded,
        "status_agreement": _proportion(pairs.status_agree, pairs.pairs, confidence),
        "output_agreement": _proportion(pairs.outputs_agree, pairs.both_succeeded, confidence),
        "label_agreement": _proportion(pairs.labels_agree, pairs.labels, confidence),
        "score_mean_abs_diff": pairs.score_abs_sum / pairs.scores if pairs.scores else None,
        "score_max_abs_diff": pairs.score_abs_max if pairs.scores else None,
        "latency_difference_ms": _paired_difference(pairs, confidence),
        "latency_ratio": _paired_ratio(pairs, confidence),
    }


def _proportion(successes: int, trials: int, confidence: float) -> dict[str, Any]:
    if trials == 0:
        return {"rate": None, "ci": None, "count": 0, "of": 0}
    interval = stats.binomtest(successes, trials).proportion_ci(confidence, method="wilson")
    return {
        "rate": successes / trials,
        "ci": [float(interval.low), float(interval.high)],
        "count": successes,
        "of": trials,
    }


def _mean_interval(
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


def _paired_difference(pairs: PairAggregate, confidence: float) -> dict[str, Any] | None:
    """Shadow - production model latency per request, with a paired t-test."""
    found = _mean_interval(
        pairs.latency_pairs, pairs.latency_diff_sum, pairs.latency_diff_sumsq, confidence
    )
    if found is None:
        return None
    mean, low, high, p_value = found
    return {"mean": mean / 1000, "ci": [low / 1000, high / 1000], "p_value": p_value}


def _paired_ratio(pairs: PairAggregate, confidence: float) -> dict[str, Any] | None:
    """Geometric mean of shadow / production latency per request, and its paired test."""
    found = _mean_interval(
        pairs.latency_pairs, pairs.latency_log_ratio_sum, pairs.latency_log_ratio_sumsq,
        confidence,
    )  # fmt: skip
    if found is None:
        return None
    mean, low, high, p_value = found
    return {"geometric_mean": math.exp(mean), "ci": [math.exp(low), math.exp(high)],
            "p_value": p_value}  # fmt: skip


def _verdict(
    variants: dict[str, dict[str, Any]],
    comparison: dict[str, Any],
    pairs: PairAggregate,
    thresholds: Thresholds,
) -> dict[str, Any]:
    reasons: list[str] = []
    checks = {"thresholds": asdict(thresholds)}
    if pairs.pairs < thresholds.min_pairs or "shadow" not in variants:
        reasons.append(f"{pairs.pairs} paired requests; at least {thresholds.min_pairs} needed.")
        return {"decision": Decision.NOT_ENOUGH_DATA.value, "reasons": reasons, **checks}
    reasons += _error_reasons(variants, thresholds)
    reasons += _agreement_reasons(comparison, thresholds)
    reasons += _latency_reasons(variants, comparison, thresholds)
    decision = Decision.DONT_PROMOTE if reasons else Decision.PROMOTE
    if not reasons:
        reasons.append("Every check passed.")
    return {"decision": decision.value, "reasons": reasons, **checks}


def _error_reasons(variants: dict[str, dict[str, Any]], thresholds: Thresholds) -> list[str]:
    production = variants["production"]["error_rate"]["rate"] or 0.0
    shadow = variants["shadow"]["error_rate"]["rate"] or 0.0
    if shadow - production > thresholds.max_error_rate_increase:
        return [
            f"Shadow error rate {shadow:.2%} exceeds production's {production:.2%} by more "
            f"than {thresholds.max_error_rate_increase:.2%}."
        ]
    return []


def _agreement_reasons(comparison: dict[str, Any], thresholds: Thresholds) -> list[str]:
    agreement = comparison["output_agreement"]
    if agreement["rate"] is None:
        return ["No request was answered successfully by both variants."]
    high = agreement["ci"][1]
    if high < thresholds.min_output_agreement:
        return [
            f"Outputs agree on {agreement['rate']:.1%} of requests (CI up to {high:.1%}), "
            f"below the required {thresholds.min_output_agreement:.1%}."
        ]
    return []


def _latency_reasons(
    variants: dict[str, dict[str, Any]], comparison: dict[str, Any], thresholds: Thresholds
) -> list[str]:
    production = variants["production"]["model_latency_ms"]["p99"]["value"]
    shadow_p99 = variants["shadow"]["model_latency_ms"]["p99"]
    shadow = shadow_p99["value"]
    ratio = comparison["latency_ratio"]
    if not production or not shadow or ratio is None:
        return []
    significant = ratio["p_value"] < 1 - thresholds.confidence and ratio["geometric_mean"] > 1
    # A p99 from a few hundred requests rests on its few slowest ones, so one stall on a busy
    # host could fail an identical shadow: judge by the low end of the shadow's p99 interval.
    shadow_low = shadow_p99["ci"][0] if shadow_p99["ci"] else shadow
    if significant and shadow_low > production * (1 + thresholds.max_latency_increase):
        return [
            f"Shadow p99 latency {shadow:.1f} ms is {shadow / production:.2f}x production's "
            f"{production:.1f} ms (paired test p = {ratio['p_value']:.2g}); at most "
            f"{1 + thresholds.max_latency_increase:.2f}x is allowed."
        ]
    return []


def _point(point: SeriesPoint) -> dict[str, Any]:
    result: dict[str, Any] = {"start": point.start}
    for role, aggregate in point.variants.items():
        invocations = aggregate.invocations
        result[role] = {
            "invocations": invocations,
            "error_rate": aggregate.model_errors / invocations if invocations else None,
            "p50_ms": _ms(aggregate.model_latency.quantile(0.5)),
            "p99_ms": _ms(aggregate.model_latency.quantile(0.99)),
            "dropped": aggregate.dropped,
        }
    if point.pairs is not None and point.pairs.both_succeeded:
        result["output_agreement"] = point.pairs.outputs_agree / point.pairs.both_succeeded
    return result


def _ms(microseconds: float | None) -> float | None:
    return None if microseconds is None else round(microseconds / 1000, 3)
