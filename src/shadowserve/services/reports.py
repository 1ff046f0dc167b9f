"""The comparison report of one experiment, from its stored aggregates."""

from __future__ import annotations

from typing import Any

from shadowserve.domain.arns import Scope
from shadowserve.domain.experiment import InferenceExperiment
from shadowserve.metrics.aggregates import PairAggregate, VariantAggregate
from shadowserve.metrics.report import SeriesPoint, Thresholds, build_report
from shadowserve.services.context import ControlPlane
from shadowserve.services.experiments import find_experiment

# Timeline resolutions, finest first; the finest giving at most MAX_POINTS points is used.
RESOLUTIONS = (10, 60, 300, 900, 3600, 21600)
MAX_POINTS = 120


def experiment_report(
    plane: ControlPlane, scope: Scope, name: str, thresholds: Thresholds
) -> dict[str, Any]:
    with plane.repository(scope) as repo:
        experiment = find_experiment(repo, name).value
        endpoint, key = experiment.endpoint_name, experiment.name
        variant_rows = repo.tx.find_aggregates("variant", scope, endpoint, key)
        pair_rows = repo.tx.find_aggregates("pair", scope, endpoint, key)
    starts = [row_key.start for row_key, _ in variant_rows + pair_rows]
    width = _resolution(starts)
    totals: dict[str, VariantAggregate] = {}
    timeline: dict[int, SeriesPoint] = {}
    for row_key, body in variant_rows:
        aggregate = VariantAggregate.from_json(body)
        totals.setdefault(row_key.role, VariantAggregate()).merge(aggregate)
        point = _point(timeline, row_key.start, width)
        point.variants.setdefault(row_key.role, VariantAggregate()).merge(aggregate)
    pairs = PairAggregate()
    for row_key, body in pair_rows:
        aggregate_pairs = PairAggregate.from_json(body)
        pairs.merge(aggregate_pairs)
        point = _point(timeline, row_key.start, width)
        assert point.pairs is not None
        point.pairs.merge(aggregate_pairs)
    series = [timeline[start] for start in sorted(timeline)]
    report = build_report(_summary(experiment), totals, pairs, series, thresholds)
    report["timeline_resolution_seconds"] = width
    return report


def _resolution(starts: list[int]) -> int:
    if not starts:
        return RESOLUTIONS[0]
    span = max(starts) - min(starts)
    for width in RESOLUTIONS:
        if span // width < MAX_POINTS:
            return width
    return RESOLUTIONS[-1]


def _point(timeline: dict[int, SeriesPoint], start: int, width: int) -> SeriesPoint:
    bucket = start // width * width
    if bucket not in timeline:
        timeline[bucket] = SeriesPoint(bucket, {}, PairAggregate())
    return timeline[bucket]


def _summary(experiment: InferenceExperiment) -> dict[str, Any]:
    production, shadow = experiment.production_variant(), experiment.shadow_variant()
    schedule = experiment.schedule
    return {
        "name": experiment.name,
        "status": experiment.status.value,
        "endpoint": experiment.endpoint_name,
        "sampling_percentage": experiment.sampling_percentage(),
        "start_time": schedule.start_time.isoformat() if schedule.start_time else None,
        "end_time": schedule.end_time.isoformat() if schedule.end_time else None,
        "completion_time": (
            experiment.completion_time.isoformat() if experiment.completion_time else None
        ),
        "production": _variant(production),
        "shadow": _variant(shadow),
    }


def _variant(variant: Any) -> dict[str, Any]:
    return {
        "variant": variant.variant_name,
        "model": variant.model_name,
        "instance_type": variant.instance_type(),
        "instance_count": variant.instance_count(),
        "status": variant.status.value if variant.status else None,
    }
