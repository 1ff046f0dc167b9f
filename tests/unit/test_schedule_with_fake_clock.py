"""Schedules over days, driven by an injected clock and the reconciler, with no sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shadowserve.domain.arns import Scope
from shadowserve.domain.clock import FakeClock
from shadowserve.domain.errors import Conflict
from shadowserve.domain.experiment import ExperimentStatus as S
from shadowserve.services import endpoint_configs, endpoints, experiments, models
from shadowserve.services.context import ControlPlane
from shadowserve.services.reconciler import Reconciler
from shadowserve.services.runtime import RecordingRuntime
from shadowserve.store.memory import MemoryStore

SCOPE = Scope("123456789012", "eu-west-1")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def world() -> tuple[ControlPlane, FakeClock, Reconciler]:
    clock = FakeClock(T0)
    plane = ControlPlane(MemoryStore(), clock, RecordingRuntime())
    reconciler = Reconciler(plane, interval=0)
    for name in ("prod", "cand"):
        models.create_model(
            plane,
            SCOPE,
            models.CreateModelInput.model_validate(
                {"ModelName": name, "PrimaryContainer": {"Image": "x"}}
            ),
        )
    endpoint_configs.create_endpoint_config(
        plane,
        SCOPE,
        endpoint_configs.CreateEndpointConfigInput.model_validate(
            {
                "EndpointConfigName": "cfg",
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": "prod",
                        "InitialInstanceCount": 1,
                        "InstanceType": "ml.m5.large",
                    }
                ],
            }
        ),
    )
    endpoints.create_endpoint(
        plane, SCOPE, endpoints.CreateEndpointInput(endpoint_name="ep", endpoint_config_name="cfg")
    )
    reconciler.run_once()
    return plane, clock, reconciler


def _create(plane: ControlPlane, start: datetime | None, end: datetime | None) -> None:
    infra = {
        "InfrastructureType": "RealTimeInference",
        "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    request = experiments.CreateInferenceExperimentInput.model_validate(
        {
            "Name": "exp",
            "Type": "ShadowMode",
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "EndpointName": "ep",
            "ModelVariants": [
                {"ModelName": "prod", "VariantName": "AllTraffic", "InfrastructureConfig": infra},
                {"ModelName": "cand", "VariantName": "shadow", "InfrastructureConfig": infra},
            ],
            "ShadowModeConfig": {
                "SourceModelVariantName": "AllTraffic",
                "ShadowModelVariants": [
                    {"ShadowModelVariantName": "shadow", "SamplingPercentage": 100}
                ],
            },
            "Schedule": {"StartTime": start, "EndTime": end},
        }
    )
    experiments.create_inference_experiment(plane, SCOPE, request)


def _status(plane: ControlPlane) -> S:
    return experiments.describe_inference_experiment(plane, SCOPE, "exp").experiment.status


def _settle(reconciler: Reconciler, passes: int = 5) -> None:
    for _ in range(passes):
        reconciler.run_once()


def test_created_waits_for_its_start_then_runs_until_its_end(world: tuple) -> None:  # type: ignore[type-arg]
    plane, clock, reconciler = world
    _create(plane, T0 + timedelta(days=2), T0 + timedelta(days=9))
    _settle(reconciler)
    assert _status(plane) == S.CREATED
    clock.advance(timedelta(days=1, hours=23))
    _settle(reconciler)
    assert _status(plane) == S.CREATED
    clock.advance(timedelta(hours=1))
    _settle(reconciler)
    assert _status(plane) == S.RUNNING
    view = endpoints.describe_endpoint(plane, SCOPE, "ep")
    assert view.config is not None and view.config.shadow_production_variants
    clock.advance(timedelta(days=7))
    _settle(reconciler)
    described = experiments.describe_inference_experiment(plane, SCOPE, "exp").experiment
    assert described.status == S.COMPLETED
    assert described.completion_time == T0 + timedelta(days=9)
    assert endpoints.describe_endpoint(plane, SCOPE, "ep").endpoint.endpoint_config_name == "cfg"


def test_default_schedule_is_seven_days_from_now(world: tuple) -> None:  # type: ignore[type-arg]
    plane, clock, reconciler = world
    _create(plane, None, None)
    _settle(reconciler)
    described = experiments.describe_inference_experiment(plane, SCOPE, "exp").experiment
    assert described.status == S.RUNNING
    assert described.schedule.start_time == T0
    assert described.schedule.end_time == T0 + timedelta(days=7)
    clock.advance(timedelta(days=6, hours=23, minutes=59))
    _settle(reconciler)
    assert _status(plane) == S.RUNNING
    clock.advance(timedelta(minutes=1))
    _settle(reconciler)
    assert _status(plane) == S.COMPLETED


def test_early_start_caps_the_end_at_thirty_days(world: tuple) -> None:  # type: ignore[type-arg]
    plane, clock, reconciler = world
    _create(plane, T0 + timedelta(days=10), T0 + timedelta(days=40))
    _settle(reconciler)
    clock.advance(timedelta(days=1))
    experiments.start_inference_experiment(plane, SCOPE, "exp")
    _settle(reconciler)
    described = experiments.describe_inference_experiment(plane, SCOPE, "exp").experiment
    assert described.status == S.RUNNING
    assert described.schedule.start_time == T0 + timedelta(days=1)
    assert described.schedule.end_time == T0 + timedelta(days=31)
    with pytest.raises(Conflict):
        experiments.start_inference_experiment(plane, SCOPE, "exp")


def test_a_past_start_means_now(world: tuple) -> None:  # type: ignore[type-arg]
    plane, _clock, reconciler = world
    _create(plane, T0 - timedelta(hours=3), T0 + timedelta(days=1))
    _settle(reconciler)
    described = experiments.describe_inference_experiment(plane, SCOPE, "exp").experiment
    assert described.status == S.RUNNING
    assert described.schedule.start_time == T0
