"""Which experiment calls are allowed in which status, and how schedules are settled.

The texts here are ours: SageMaker documents none of them (docs/decisions.md).
"""

from __future__ import annotations

from datetime import datetime

from shadowserve.domain.errors import Conflict, InvalidInput
from shadowserve.domain.experiment import (
    DEFAULT_DURATION,
    MAX_DURATION,
    ExperimentStatus,
    InferenceExperiment,
    ModelVariant,
    Schedule,
    ShadowModeConfig,
)

S = ExperimentStatus

# Operation → statuses it may be called in.
ALLOWED: dict[str, frozenset[ExperimentStatus]] = {
    "update": frozenset({S.CREATED, S.RUNNING}),
    "start": frozenset({S.CREATED}),
    # Stopping a Created experiment cancels a test that never began (our choice).
    "stop": frozenset({S.CREATED, S.RUNNING}),
    "delete": frozenset({S.CREATED, S.COMPLETED, S.CANCELLED}),
}


def ensure_allowed(operation: str, experiment: InferenceExperiment) -> None:
    allowed = ALLOWED[operation]
    if experiment.status not in allowed:
        wanted = " or ".join(sorted(allowed))
        raise Conflict(
            f"Cannot {operation} inference experiment {experiment.name} because its status is "
            f"{experiment.status}; it must be {wanted}."
        )


def check_variant_roles(variants: list[ModelVariant], shadow_mode: ShadowModeConfig) -> None:
    """ShadowModeConfig must name a production and a shadow variant, both in ModelVariants."""
    names = [v.variant_name for v in variants]
    if len(set(names)) != len(names):
        raise InvalidInput("ModelVariants must not name the same variant twice.")
    source = shadow_mode.source_model_variant_name
    shadow = shadow_mode.shadow().shadow_model_variant_name
    if len(shadow_mode.shadow_model_variants) != 1:
        raise InvalidInput("ShadowModeConfig must name exactly one shadow model variant.")
    if source == shadow:
        raise InvalidInput(
            f"The shadow variant {shadow} must differ from the source variant {source}."
        )
    for role, name in (("SourceModelVariantName", source), ("ShadowModelVariantName", shadow)):
        if name not in names:
            raise InvalidInput(f"{role} {name} is not one of the ModelVariants {names}.")
    if len(names) != 2:
        raise InvalidInput("ModelVariants must list exactly the production and shadow variants.")
    sampling = shadow_mode.shadow().sampling_percentage
    if sampling < 0:
        raise InvalidInput(f"SamplingPercentage {sampling} must be between 0 and 100.")


def settle_schedule(requested: Schedule | None, now: datetime) -> Schedule:
    """Defaults (start now, end 7 days later) and limits (at most 30 days) for a new schedule."""
    start = requested.start_time if requested else None
    if start is None or start < now:
        # A start in the past means "now": the documented default is to start immediately.
        start = now
    end = requested.end_time if requested else None
    if end is None:
        end = start + DEFAULT_DURATION
    check_window(start, end)
    return Schedule(start_time=start, end_time=end)


def check_window(start: datetime, end: datetime) -> None:
    if end <= start:
        raise InvalidInput(
            f"The schedule's EndTime {end.isoformat()} must be after its StartTime "
            f"{start.isoformat()}."
        )
    if end - start > MAX_DURATION:
        raise InvalidInput("The maximum duration of an inference experiment is 30 days.")


def schedule_for_early_start(schedule: Schedule, now: datetime) -> Schedule:
    """StartInferenceExperiment pulls the start to now and caps the end at 30 days from it."""
    end = schedule.end_time or now + DEFAULT_DURATION
    return Schedule(start_time=now, end_time=min(end, now + MAX_DURATION))


def schedule_for_update(
    experiment: InferenceExperiment, requested: Schedule, now: datetime
) -> Schedule:
    """Created: both times may change. Running: only the end time may."""
    current = experiment.schedule
    if experiment.status == S.RUNNING:
        if requested.start_time is not None and requested.start_time != current.start_time:
            raise InvalidInput(
                "The StartTime of a Running inference experiment cannot be changed; "
                "only its EndTime can."
            )
        start = current.start_time or now
        end = requested.end_time or current.end_time or start + DEFAULT_DURATION
        if end <= now:
            raise InvalidInput("The new EndTime must be in the future.")
        check_window(start, end)
        return Schedule(start_time=start, end_time=end)
    return settle_schedule(
        Schedule(
            start_time=requested.start_time or current.start_time,
            end_time=requested.end_time or current.end_time,
        ),
        now,
    )
