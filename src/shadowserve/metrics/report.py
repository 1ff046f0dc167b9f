"""The comparison report of an experiment: both variants side by side, the paired
comparison — per request for latency, per field and by kind for outputs — and a verdict.

Pure: it is computed from stored aggregates, so it reads the same while the
experiment runs, after it ends and after a restart.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shadowserve.comparison import stats
from shadowserve.comparison.bins import log_ratio_bin_middle
from shadowserve.comparison.pairs import split_field_id
from shadowserve.comparison.settings import CompareSettings
from shadowserve.comparison.summary import noise_fields, summarize
from shadowserve.metrics.aggregates import PairAggregate, VariantAggregate
from shadowserve.metrics.histogram import LogHistogram
from shadowserve.metrics.verdict import Thresholds, verdict


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
    settings: CompareSettings | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    settings = settings or CompareSettings()
    confidence = thresholds.confidence
    variants = {role: _variant(total, confidence) for role, total in totals.items()}
    comparison = _comparison(pairs, settings, confidence)
    return {
        "experiment": experiment,
        "settings": settings.to_json(),
        "warnings": list(warnings or []),
        "variants": variants,
        "comparison": comparison,
        "verdict": verdict(variants, comparison, settings.mode, thresholds),
        "timeline": [_point(point, _excluded(pairs, settings)) for point in series],
    }


def _excluded(pairs: PairAggregate, settings: CompareSettings) -> Callable[[str], bool]:
    """Fields left out of output agreement: the noise found over the whole experiment and
    the pointers the settings ignore."""
    noise = noise_fields(pairs.outputs)
    return lambda ident: ident in noise or settings.ignores(split_field_id(ident)[1])


def _variant(total: VariantAggregate, confidence: float) -> dict[str, Any]:
    return {
        "invocations": total.invocations,
        "invocations_per_instance": round(total.invocations_per_instance, 3),
        "invocation_4xx_errors": total.errors_4xx,
        "invocation_5xx_errors": total.errors_5xx,
        "invocation_model_errors": total.model_errors,
        "timeouts": total.timeouts,
        "dropped": total.dropped,
        "error_rate": stats.proportion(total.model_errors, total.invocations, confidence),
        "model_latency_ms": latency_quantiles(total.model_latency, confidence),
        "overhead_latency_ms": latency_quantiles(total.overhead_latency, confidence),
    }


def latency_quantiles(histogram: LogHistogram, confidence: float) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        value = histogram.quantile(q)
        interval = histogram.quantile_interval(q, confidence)
        result[name] = {
            "value": _ms(value),
            "ci": [_ms(interval[0]), _ms(interval[1])] if interval else None,
        }
    return result


def _comparison(
    pairs: PairAggregate, settings: CompareSettings, confidence: float
) -> dict[str, Any]:
    outputs = summarize(pairs.outputs, settings, confidence)
    return {
        "pairs": pairs.pairs,
        "unpaired": pairs.unpaired,
        "both_succeeded": pairs.both_succeeded,
        "status_agreement": stats.proportion(pairs.status_agree, pairs.pairs, confidence),
        "output_agreement": outputs["output_agreement"],
        "label_agreement": _headline(outputs, "label", "label_agreement"),
        "score_agreement": _headline(outputs, "score", "within_tolerance"),
        "latency_difference_ms": _paired_difference(pairs, confidence),
        "latency_ratio": _paired_ratio(pairs, confidence),
        "latency_ratio_median": _median_ratio(pairs, confidence),
        "outputs": outputs,
    }


def _headline(outputs: dict[str, Any], kind: str, figure: str) -> dict[str, Any]:
    """The figure of the most seen field of a kind that counts (not noise, not ignored)."""
    for field in outputs["fields"]:
        if field["kind"] == kind and not field["excluded"]:
            found: dict[str, Any] = field[figure]
            return found | {"field": field["pointer"], "derived": field.get("derived")}
    return {"rate": None, "ci": None, "count": 0, "of": 0, "field": None}


def _median_ratio(pairs: PairAggregate, confidence: float) -> dict[str, Any] | None:
    """The median over requests of shadow / production latency, with a distribution-free
    interval: robust to the odd stall of either leg."""
    found = stats.median_interval(pairs.latency_log_ratios, confidence)
    if found is None:
        return None
    median, low, high = (math.exp(log_ratio_bin_middle(index)) for index in found)
    return {"median": median, "ci": [low, high], "pairs": pairs.latency_log_ratios.total}


def _paired_difference(pairs: PairAggregate, confidence: float) -> dict[str, Any] | None:
    """Shadow - production model latency per request, with a paired t-test."""
    found = stats.mean_interval(
        pairs.latency_pairs, pairs.latency_diff_sum, pairs.latency_diff_sumsq, confidence
    )
    if found is None:
        return None
    mean, low, high, p_value = found
    return {"mean": mean / 1000, "ci": [low / 1000, high / 1000], "p_value": p_value}


def _paired_ratio(pairs: PairAggregate, confidence: float) -> dict[str, Any] | None:
    """Geometric mean of shadow / production latency per request, and its paired test."""
    found = stats.mean_interval(
        pairs.latency_pairs, pairs.latency_log_ratio_sum, pairs.latency_log_ratio_sumsq,
        confidence,
    )  # fmt: skip
    if found is None:
        return None
    mean, low, high, p_value = found
    return {"geometric_mean": math.exp(mean), "ci": [math.exp(low), math.exp(high)],
            "p_value": p_value}  # fmt: skip


def _point(point: SeriesPoint, excluded: Callable[[str], bool]) -> dict[str, Any]:
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
        outputs = point.pairs.outputs
        result["output_agreement"] = (
            outputs.agreeing(excluded) / outputs.compared if outputs.compared else None
        )
    return result


def _ms(microseconds: float | None) -> float | None:
    return None if microseconds is None else round(microseconds / 1000, 3)
