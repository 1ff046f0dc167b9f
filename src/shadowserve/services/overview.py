"""What the dashboard's front page lists: endpoints and experiments of one region."""

from __future__ import annotations

from typing import Any

from shadowserve.domain.arns import Scope
from shadowserve.domain.experiment import InferenceExperiment
from shadowserve.domain.resources import Endpoint, EndpointConfig
from shadowserve.services.context import ControlPlane


def overview(plane: ControlPlane, scope: Scope) -> dict[str, Any]:
    with plane.repository(scope) as repo:
        endpoints = sorted((e.value for e in repo.all(Endpoint)), key=lambda e: e.creation_time)
        configs = {c.value.endpoint_config_name: c.value for c in repo.all(EndpointConfig)}
        experiments = sorted(
            (e.value for e in repo.all(InferenceExperiment)),
            key=lambda e: e.creation_time,
            reverse=True,
        )
    return {
        "region": scope.region,
        "endpoints": [
            _endpoint(e, configs.get(e.endpoint_config_name), _placements(plane, scope, e))
            for e in endpoints
        ],
        "experiments": [_experiment(e) for e in experiments],
    }


def _placements(plane: ControlPlane, scope: Scope, endpoint: Endpoint) -> list[dict[str, Any]]:
    """Each instance with the node it runs on (a cluster runtime's, on the leader)."""
    found = plane.placements.placements(scope, endpoint.endpoint_name) if plane.placements else None
    return [
        {"variant": variant, "instance": p.instance, "node": p.node, "healthy": p.healthy}
        for variant, placed in (found or {}).items()
        for p in placed
    ]


def _endpoint(
    endpoint: Endpoint, config: EndpointConfig | None, instances: list[dict[str, Any]]
) -> dict[str, Any]:
    production = config.production_variants if config else []
    shadows = (config.shadow_production_variants or []) if config else []
    return {
        "name": endpoint.endpoint_name,
        "status": endpoint.endpoint_status.value,
        "config": endpoint.endpoint_config_name,
        "failure_reason": endpoint.failure_reason,
        "production_variants": [f"{v.variant_name} ({v.model_name})" for v in production],
        "shadow_variants": [f"{v.variant_name} ({v.model_name})" for v in shadows],
        "created": endpoint.creation_time.isoformat(),
        "instances": instances,
    }


def _experiment(experiment: InferenceExperiment) -> dict[str, Any]:
    schedule = experiment.schedule
    return {
        "name": experiment.name,
        "status": experiment.status.value,
        "endpoint": experiment.endpoint_name,
        "sampling_percentage": experiment.sampling_percentage(),
        "start_time": schedule.start_time.isoformat() if schedule.start_time else None,
        "end_time": schedule.end_time.isoformat() if schedule.end_time else None,
        "created": experiment.creation_time.isoformat(),
    }
