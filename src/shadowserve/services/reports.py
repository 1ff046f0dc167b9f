"""The comparison report of one experiment, from its stored per-minute aggregates."""

from __future__ import annotations

from typing import Any

from shadowserve.domain.arns import Scope
from shadowserve.domain.experiment import InferenceExperiment
from shadowserve.metrics.aggregates import PairMinute, VariantMinute
from shadowserve.metrics.report import MinuteSeries, Thresholds, build_report
from shadowserve.services.context import ControlPlane
from shadowserve.services.experiments import find_experiment


def experiment_report(
    plane: ControlPlane, scope: Scope, name: str, thresholds: Thresholds
) -> dict[str, Any]:
    with plane.repository(scope) as repo:
        experiment = find_experiment(repo, name).value
        endpoint, key = experiment.endpoint_name, experiment.name
        variant_rows = repo.tx.find_minutes("variant", scope, endpoint, key)
        pair_rows = repo.tx.find_minutes("pair", scope, endpoint, key)
    totals: dict[str, VariantMinute] = {}
    per_minute: dict[int, MinuteSeries] = {}
    for row_key, body in variant_rows:
        minute = VariantMinute.from_json(body)
        totals.setdefault(row_key.role, VariantMinute()).merge(minute)
        point = per_minute.setdefault(row_key.minute, MinuteSeries(row_key.minute, {}, None))
        point.variants.setdefault(row_key.role, VariantMinute()).merge(minute)
    pairs = PairMinute()
    for row_key, body in pair_rows:
        minute_pairs = PairMinute.from_json(body)
        pairs.merge(minute_pairs)
        point = per_minute.setdefault(row_key.minute, MinuteSeries(row_key.minute, {}, None))
        per_minute[row_key.minute] = MinuteSeries(point.minute, point.variants, minute_pairs)
    series = [per_minute[minute] for minute in sorted(per_minute)]
    return build_report(_summary(experiment), totals, pairs, series, thresholds)


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
