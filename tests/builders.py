"""Small builders for the resources most tests need, created through boto3."""

from __future__ import annotations

import time
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/shadowserve-tests"
# Where test models run: conftest points this at an echo container for the test session.
CONTAINER_IMAGE = {"url": "example.com/model:1"}


def infrastructure(count: int = 1, instance_type: str = "ml.m5.large") -> dict[str, Any]:
    return {
        "InfrastructureType": "RealTimeInference",
        "RealTimeInferenceConfig": {"InstanceType": instance_type, "InstanceCount": count},
    }


def model_variant(model: str, variant: str, count: int = 1) -> dict[str, Any]:
    return {
        "ModelName": model,
        "VariantName": variant,
        "InfrastructureConfig": infrastructure(count),
    }


def create_model(sagemaker: Any, name: str) -> str:
    arn: str = sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={"Image": CONTAINER_IMAGE["url"]},
        ExecutionRoleArn=ROLE,
    )["ModelArn"]
    return arn


def create_endpoint(sagemaker: Any, name: str, model: str, variant: str = "AllTraffic") -> None:
    """An InService endpoint with one production variant serving ``model``."""
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )


class ShadowSetup:
    """Two models and an InService endpoint serving the first: ready for an experiment."""

    def __init__(self, sagemaker: Any, prefix: str) -> None:
        self.sagemaker = sagemaker
        self.production_model = f"{prefix}-prod"
        self.shadow_model = f"{prefix}-cand"
        self.endpoint = f"{prefix}-ep"
        self.experiment = f"{prefix}-exp"
        self.history: list[str] = []
        create_model(sagemaker, self.production_model)
        create_model(sagemaker, self.shadow_model)
        create_endpoint(sagemaker, self.endpoint, self.production_model)

    def create_kwargs(self, sampling: int = 50, **overrides: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "Name": self.experiment,
            "Type": "ShadowMode",
            "RoleArn": ROLE,
            "EndpointName": self.endpoint,
            "ModelVariants": [
                model_variant(self.production_model, "AllTraffic"),
                model_variant(self.shadow_model, "shadow"),
            ],
            "ShadowModeConfig": {
                "SourceModelVariantName": "AllTraffic",
                "ShadowModelVariants": [
                    {"ShadowModelVariantName": "shadow", "SamplingPercentage": sampling}
                ],
            },
        }
        kwargs.update(overrides)
        return kwargs

    def create(self, **overrides: Any) -> str:
        arn: str = self.sagemaker.create_inference_experiment(**self.create_kwargs(**overrides))[
            "InferenceExperimentArn"
        ]
        return arn

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = self.sagemaker.describe_inference_experiment(
            Name=self.experiment
        )
        return described

    def wait_for(self, status: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while time.monotonic() < deadline:
            described = self.describe()
            if not seen or seen[-1] != described["Status"]:
                seen.append(described["Status"])
            if described["Status"] == status:
                self.history = seen
                return described
            time.sleep(0.05)
        raise AssertionError(f"never reached {status}; saw {seen}")
