"""A control plane on the in-memory fakes: MemoryStore, RecordingRuntime and a FakeClock,
moved by calling the reconciler's passes directly. Rules run here in milliseconds, with no
server, workers or sleeping; tests/integration keeps one end-to-end test per family."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shadowserve.domain.arns import Scope
from shadowserve.domain.clock import FakeClock
from shadowserve.domain.experiment import ExperimentStatus, InferenceExperiment
from shadowserve.services import endpoint_configs, endpoints, experiments, models
from shadowserve.services.context import ControlPlane
from shadowserve.services.reconciler import Reconciler
from shadowserve.services.runtime import RecordingRuntime
from shadowserve.store.memory import MemoryStore

SCOPE = Scope("123456789012", "eu-west-1")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NAME = "exp"


def variant(model: str, name: str, count: int = 1) -> dict[str, Any]:
    return {
        "ModelName": model,
        "VariantName": name,
        "InfrastructureConfig": {
            "InfrastructureType": "RealTimeInference",
            "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": count},
        },
    }


def shadow_mode(sampling: int = 100, shadow: str = "shadow") -> dict[str, Any]:
    return {
        "SourceModelVariantName": "AllTraffic",
        "ShadowModelVariants": [{"ShadowModelVariantName": shadow, "SamplingPercentage": sampling}],
    }


def bare_plane(clock: FakeClock | None = None) -> ControlPlane:
    """An empty control plane on the fakes: nothing created yet."""
    return ControlPlane(MemoryStore(), clock or FakeClock(T0), RecordingRuntime())


@dataclass
class World:
    """Models prod and cand, and endpoint ep (config cfg) serving prod, InService."""

    plane: ControlPlane
    clock: FakeClock
    reconciler: Reconciler

    @classmethod
    def make(cls) -> World:
        clock = FakeClock(T0)
        plane = bare_plane(clock)
        world = cls(plane, clock, Reconciler(plane, interval=0))
        for name in ("prod", "cand"):
            models.create_model(world.plane, SCOPE, models.CreateModelInput.model_validate(
                {"ModelName": name, "PrimaryContainer": {"Image": "x"}}))  # fmt: skip
        endpoint_configs.create_endpoint_config(
            world.plane, SCOPE, endpoint_configs.CreateEndpointConfigInput.model_validate({
                "EndpointConfigName": "cfg",
                "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "prod",
                                        "InitialInstanceCount": 1,
                                        "InstanceType": "ml.m5.large"}],
            }),
        )  # fmt: skip
        endpoints.create_endpoint(
            world.plane, SCOPE,
            endpoints.CreateEndpointInput(endpoint_name="ep", endpoint_config_name="cfg"),
        )  # fmt: skip
        world.settle()
        return world

    def create(self, **overrides: Any) -> None:
        request = {
            "Name": NAME,
            "Type": "ShadowMode",
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "EndpointName": "ep",
            "ModelVariants": [variant("prod", "AllTraffic"), variant("cand", "shadow")],
            "ShadowModeConfig": shadow_mode(),
            **overrides,
        }
        experiments.create_inference_experiment(
            self.plane, SCOPE, experiments.CreateInferenceExperimentInput.model_validate(request)
        )

    def update(self, **fields: Any) -> None:
        request = experiments.UpdateInferenceExperimentInput.model_validate(
            {"Name": NAME, **fields}
        )
        experiments.update_inference_experiment(self.plane, SCOPE, request)

    def stop(self, actions: dict[str, str], **fields: Any) -> None:
        request = experiments.StopInferenceExperimentInput.model_validate(
            {"Name": NAME, "ModelVariantActions": actions, **fields}
        )
        experiments.stop_inference_experiment(self.plane, SCOPE, request)

    def experiment(self) -> InferenceExperiment:
        return experiments.describe_inference_experiment(self.plane, SCOPE, NAME).experiment

    def status(self) -> ExperimentStatus:
        return self.experiment().status

    def endpoint_config(self) -> str:
        return endpoints.describe_endpoint(self.plane, SCOPE, "ep").endpoint.endpoint_config_name

    def settle(self, passes: int = 5) -> None:
        for _ in range(passes):
            self.reconciler.run_once()
