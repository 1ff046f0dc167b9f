"""How the reconciler moves an experiment forward, one step per call.

Each step runs in one transaction with the endpoint and configs it touches, so a crash
between steps leaves a state the next step (after a restart too) picks up from.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from shadowserve.domain.arns import ResourceKind, resource_arn
from shadowserve.domain.experiment import (
    ExperimentStatus,
    InferenceExperiment,
    StopRequest,
    VariantStatus,
)
from shadowserve.domain.experiment_configs import (
    end_of_schedule_stop,
    mark_stopped,
    mark_stopping,
    outcome_config,
    shadow_variants,
)
from shadowserve.domain.resources import Endpoint, EndpointConfig, EndpointStatus
from shadowserve.services.endpoint_configs import get_endpoint_config
from shadowserve.services.endpoints import begin_rollout, find_endpoint
from shadowserve.services.repository import Loaded, Repository

S = ExperimentStatus


def advance(repo: Repository, found: Loaded[InferenceExperiment], now: datetime) -> None:
    experiment = found.value
    before = experiment.model_dump()
    step = _STEPS.get(experiment.status)
    if step is None:
        return
    step(repo, experiment, now)
    if experiment.model_dump() != before:
        experiment.last_modified_time = now
        repo.save(found)


def due(experiment: InferenceExperiment, now: datetime) -> datetime | None:
    """When ``advance`` would next change the experiment if nothing else is written: ``now``
    for a status that moves by itself, the schedule's start (Created) or end (Running), None
    when only a request can move it (finished, or running without an end)."""
    if experiment.status == S.CREATED:
        start = experiment.schedule.start_time
        return start if start is not None and start > now else now
    if experiment.status == S.RUNNING:
        return experiment.schedule.end_time
    return now if experiment.status in _STEPS else None


def cancel(
    repo: Repository, found: Loaded[InferenceExperiment], reason: str, now: datetime
) -> None:
    """An unexpected failure ends the experiment as Cancelled with the error as the reason."""
    _finish(found.value, S.CANCELLED, reason, now)
    found.value.last_modified_time = now
    repo.save(found)


def _creating(_repo: Repository, experiment: InferenceExperiment, now: datetime) -> None:
    start = experiment.schedule.start_time
    experiment.status = S.CREATED if start is not None and start > now else S.STARTING


def _created(_repo: Repository, experiment: InferenceExperiment, now: datetime) -> None:
    start = experiment.schedule.start_time
    if start is None or start <= now:
        experiment.status = S.STARTING


def _updating(_repo: Repository, experiment: InferenceExperiment, _now: datetime) -> None:
    experiment.status = experiment.progress.status_after_update or S.CREATED
    experiment.progress.status_after_update = None


def _running(_repo: Repository, experiment: InferenceExperiment, now: datetime) -> None:
    end = experiment.schedule.end_time
    if end is not None and end <= now:
        stop = end_of_schedule_stop()
        mark_stopping(experiment, stop)
        experiment.progress.stop = stop
        experiment.status = S.STOPPING


def _starting(repo: Repository, experiment: InferenceExperiment, now: datetime) -> None:
    endpoint_found = find_endpoint(repo, experiment.endpoint_name)
    endpoint = endpoint_found.value
    target = experiment.progress.experiment_endpoint_config_name
    if target is None:
        if endpoint.endpoint_status != EndpointStatus.IN_SERVICE:
            _finish(experiment, S.CANCELLED, _not_in_service(endpoint), now)
            return
        base = get_endpoint_config(repo, endpoint.endpoint_config_name)
        config = _named(repo, shadow_variants(base, experiment), endpoint, "shadow", now)
        experiment.progress.prior_endpoint_config = base
        experiment.progress.experiment_endpoint_config_name = config.endpoint_config_name
        begin_rollout(repo, endpoint_found, config.endpoint_config_name, now)
        return
    outcome = _rollout_outcome(endpoint, target)
    if outcome is True:
        experiment.status = S.RUNNING
        experiment.set_variant_statuses(VariantStatus.IN_SERVICE, VariantStatus.IN_SERVICE)
    elif outcome is False:
        reason = endpoint.failure_reason or "The shadow variant could not be deployed."
        _finish(experiment, S.CANCELLED, reason, now)


def _stopping(repo: Repository, experiment: InferenceExperiment, now: datetime) -> None:
    stop = experiment.progress.stop or end_of_schedule_stop()
    endpoint_found = find_endpoint(repo, experiment.endpoint_name)
    endpoint = endpoint_found.value
    target = experiment.progress.outcome_endpoint_config_name
    if target is None:
        if endpoint.endpoint_status not in (EndpointStatus.IN_SERVICE, EndpointStatus.FAILED):
            return  # Let the rollout under way settle first.
        target = _outcome_config_name(repo, experiment, stop, endpoint, now)
        experiment.progress.outcome_endpoint_config_name = target
        begin_rollout(repo, endpoint_found, target, now)
        return
    outcome = _rollout_outcome(endpoint, target)
    if outcome is True:
        mark_stopped(experiment, stop, deployed=True)
        _finish(experiment, stop.desired_state, stop.reason, now)
    elif outcome is False:
        reason = endpoint.failure_reason or "The endpoint could not be restored."
        fallback = None
        if not experiment.progress.fell_back:
            fallback = _without_shadow(repo, experiment, endpoint, now)
        if fallback is None:
            _finish(experiment, S.CANCELLED, reason, now)
            return
        # An experiment never ends with its shadow still mirrored: take the shadow off and
        # keep production as it ran, then end Cancelled saying why.
        experiment.progress.fell_back = True
        experiment.progress.stop = StopRequest(
            actions={},
            desired_state=S.CANCELLED,
            reason=f"{reason} The shadow variant was removed; production kept as it ran.",
        )
        mark_stopping(experiment, experiment.progress.stop)
        experiment.progress.outcome_endpoint_config_name = fallback
        begin_rollout(repo, endpoint_found, fallback, now)


def _outcome_config_name(
    repo: Repository,
    experiment: InferenceExperiment,
    stop: StopRequest,
    endpoint: Endpoint,
    now: datetime,
) -> str:
    prior = experiment.progress.prior_endpoint_config
    if prior is None:
        return endpoint.endpoint_config_name
    outcome = outcome_config(experiment, stop, prior)
    if outcome is not None:
        return _named(repo, outcome, endpoint, "outcome", now).endpoint_config_name
    if repo.find(EndpointConfig, prior.endpoint_config_name) is None:
        repo.add(prior)  # Deleted while the experiment ran: restore it as it was.
    return prior.endpoint_config_name


def _without_shadow(
    repo: Repository, experiment: InferenceExperiment, endpoint: Endpoint, now: datetime
) -> str | None:
    """A copy of the endpoint's current config without its shadow variants, capturing as
    before the experiment (its production pools are reused, so it deploys without fetching
    anything); None if it has no shadow."""
    current = repo.find(EndpointConfig, endpoint.endpoint_config_name)
    if current is None or not current.value.shadow_production_variants:
        return None
    template = current.value.model_copy(deep=True)
    template.shadow_production_variants = None
    prior = experiment.progress.prior_endpoint_config
    template.data_capture_config = prior.data_capture_config if prior else None
    return _named(repo, template, endpoint, "fallback", now).endpoint_config_name


def _rollout_outcome(endpoint: Endpoint, target: str) -> bool | None:
    """True once the endpoint serves ``target``; False if that rollout failed; None: wait."""
    if endpoint.pending_endpoint_config_name == target:
        return None
    if endpoint.endpoint_status != EndpointStatus.IN_SERVICE:
        return None if endpoint.endpoint_status == EndpointStatus.UPDATING else False
    return endpoint.endpoint_config_name == target


def _named(
    repo: Repository, template: EndpointConfig, endpoint: Endpoint, purpose: str, now: datetime
) -> EndpointConfig:
    name = f"{endpoint.endpoint_name[:40]}-{purpose}-{uuid.uuid4().hex[:8]}"
    config = template.model_copy(deep=True)
    config.endpoint_config_name = name
    config.endpoint_config_arn = resource_arn(repo.scope, ResourceKind.ENDPOINT_CONFIG, name)
    config.creation_time = now
    repo.add(config)
    return config


def _finish(experiment: InferenceExperiment, status: S, reason: str | None, now: datetime) -> None:
    experiment.status = status
    experiment.status_reason = reason
    experiment.completion_time = now


def _not_in_service(endpoint: Endpoint) -> str:
    return (
        f"Endpoint {endpoint.endpoint_name} was {endpoint.endpoint_status} when the "
        "experiment was due to start; it must be InService."
    )


_STEPS = {
    S.CREATING: _creating,
    S.CREATED: _created,
    S.UPDATING: _updating,
    S.STARTING: _starting,
    S.RUNNING: _running,
    S.STOPPING: _stopping,
}
