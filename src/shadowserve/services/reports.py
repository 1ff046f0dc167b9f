"""The comparison report of one experiment, from its stored aggregates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shadowserve.comparison.settings import CompareSettings, Overrides, SettingsError
from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import InvalidInput
from shadowserve.domain.experiment import ExperimentStatus, InferenceExperiment, VariantAction
from shadowserve.metrics.aggregates import PairAggregate, VariantAggregate
from shadowserve.metrics.report import SeriesPoint, build_report
from shadowserve.metrics.verdict import Thresholds
from shadowserve.services.compare_settings import experiment_settings
from shadowserve.services.context import ControlPlane
from shadowserve.services.experiments import find_experiment

# Timeline resolutions, finest first; the finest giving at most MAX_POINTS points is used.
RESOLUTIONS = (10, 60, 300, 900, 3600, 21600)
MAX_POINTS = 120


@dataclass(frozen=True)
class ReportRequest:
    thresholds: Thresholds = field(default_factory=Thresholds)
    base: CompareSettings = field(default_factory=CompareSettings)  # the server's defaults
    # The report's own flags, over the experiment's tags.
    overrides: Overrides = field(default_factory=Overrides)
    # The server's --shadow-niceness: shadows that yield the CPU are slower on a busy machine.
    shadow_niceness: int = 0


@dataclass
class StoredReport:
    """What a report is built from: the experiment, its settings and stored aggregates."""

    experiment: InferenceExperiment
    settings: CompareSettings
    warnings: list[str]
    totals: dict[str, VariantAggregate]
    pairs: PairAggregate
    series: list[SeriesPoint]
    width: int

    def build(self, request: ReportRequest) -> dict[str, Any]:
        report = build_report(
            _summary(self.experiment), self.totals, self.pairs, self.series,
            request.thresholds, self.settings, self.warnings,
        )  # fmt: skip
        report["timeline_resolution_seconds"] = self.width
        report["warnings"] += _latency_warnings(report["verdict"], request.shadow_niceness)
        return report


def experiment_report(
    plane: ControlPlane, scope: Scope, name: str, request: ReportRequest
) -> dict[str, Any]:
    stored = load_report(plane, scope, name, request)
    stored.warnings += _compare_time_warnings(request.overrides)
    return stored.build(request)


def load_report(
    plane: ControlPlane, scope: Scope, name: str, request: ReportRequest
) -> StoredReport:
    with plane.repository(scope) as repo:
        experiment = find_experiment(repo, name).value
        endpoint, key = experiment.endpoint_name, experiment.name
        resolved = experiment_settings(repo, experiment.name, request.base)
        variant_rows = repo.tx.find_aggregates("variant", scope, endpoint, key)
        pair_rows = repo.tx.find_aggregates("pair", scope, endpoint, key)
    settings = report_settings(resolved.settings, request.overrides)
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
    return StoredReport(experiment, settings, list(resolved.warnings), totals, pairs, series,
                        width)  # fmt: skip


def report_settings(settings: CompareSettings, overrides: Overrides) -> CompareSettings:
    try:
        return overrides.apply(settings)
    except SettingsError as exc:
        raise InvalidInput(str(exc)) from exc


def _compare_time_warnings(overrides: Overrides) -> list[str]:
    """Tolerance and label threshold shape the comparison as pairs are compared: a report
    flag can't change pairs already aggregated (a recompute from capture can)."""
    given = [flag for flag, value in (("--tolerance", overrides.tolerance),
                                      ("--label-threshold", overrides.label_threshold))
             if value is not None]  # fmt: skip
    if not given:
        return []
    return [
        f"{' and '.join(given)} apply as outputs are compared; the stored comparison used the "
        "experiment's settings. Add --from-capture to recompute it from the captured data."
    ]


def _latency_warnings(verdict: dict[str, Any], shadow_niceness: int) -> list[str]:
    """A failed latency check, with what besides the model can slow the shadow: its copy
    runs alongside production's next requests, and niced shadow workers yield the CPU."""
    failed = any(check["name"] == "latency" and not check["passed"]
                 for check in verdict["checks"])  # fmt: skip
    if not failed:
        return []
    warnings = [
        "The shadow's copy is sent once production has answered, so it runs alongside "
        "production's next requests: on a machine short of CPU the shadow's latency includes "
        "its wait for the CPU (identical models read up to 1.4x on a busy 2-core host). Judge "
        "latency where the server, both variants and the callers have cores to spare."
    ]
    if shadow_niceness > 0:
        warnings.append(
            f"Shadow workers started here run at +{shadow_niceness} nice (--shadow-niceness), "
            "so they yield the CPU to production: on a busy machine that wait is in the "
            "shadow's latency too. Start the server with --shadow-niceness 0 to compare "
            "latency on equal terms."
        )
    return warnings


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
        "status_reason": experiment.status_reason,
        "outcome": _outcome(experiment),
        "capture_destination": (
            experiment.data_storage_config.destination if experiment.data_storage_config else None
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


ENDED = {ExperimentStatus.COMPLETED, ExperimentStatus.CANCELLED}
OUTCOMES = {VariantAction.PROMOTE: "promoted", VariantAction.RETAIN: "retained",
            VariantAction.REMOVE: "removed"}  # fmt: skip


def _outcome(experiment: InferenceExperiment) -> str | None:
    """What the stop did with the shadow: promoted, retained or removed (None while active)."""
    if experiment.status not in ENDED:
        return None
    stop = experiment.progress.stop
    shadow = experiment.shadow_variant().variant_name
    action = stop.actions.get(shadow, VariantAction.REMOVE) if stop else VariantAction.REMOVE
    return OUTCOMES[action]
