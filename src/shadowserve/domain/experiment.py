"""Inference experiments: the resource, its statuses and the rules for moving between them."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field

from shadowserve.domain.resources import CaptureContentTypeHeader, EndpointConfig
from shadowserve.domain.shapes import Shape

DEFAULT_DURATION = timedelta(days=7)
MAX_DURATION = timedelta(days=30)


class ExperimentStatus(StrEnum):
    CREATING = "Creating"
    CREATED = "Created"
    UPDATING = "Updating"
    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"


# Statuses in which an experiment still owns its endpoint: a second one may not start there.
ACTIVE_STATUSES = frozenset(
    {
        ExperimentStatus.CREATING,
        ExperimentStatus.CREATED,
        ExperimentStatus.UPDATING,
        ExperimentStatus.STARTING,
        ExperimentStatus.RUNNING,
        ExperimentStatus.STOPPING,
    }
)
FINISHED_STATUSES = frozenset({ExperimentStatus.COMPLETED, ExperimentStatus.CANCELLED})


class VariantAction(StrEnum):
    RETAIN = "Retain"
    REMOVE = "Remove"
    PROMOTE = "Promote"


class VariantStatus(StrEnum):
    CREATING = "Creating"
    UPDATING = "Updating"
    IN_SERVICE = "InService"
    DELETING = "Deleting"
    DELETED = "Deleted"


class RealTimeInferenceConfig(Shape):
    instance_type: str
    instance_count: int


class InfrastructureConfig(Shape):
    infrastructure_type: str
    real_time_inference_config: RealTimeInferenceConfig


class ModelVariant(Shape):
    model_name: str
    variant_name: str
    infrastructure_config: InfrastructureConfig
    status: VariantStatus | None = None

    def instance_type(self) -> str:
        return self.infrastructure_config.real_time_inference_config.instance_type

    def instance_count(self) -> int:
        return self.infrastructure_config.real_time_inference_config.instance_count


class ShadowModelVariant(Shape):
    shadow_model_variant_name: str
    sampling_percentage: int


class ShadowModeConfig(Shape):
    source_model_variant_name: str
    shadow_model_variants: list[ShadowModelVariant]

    def shadow(self) -> ShadowModelVariant:
        return self.shadow_model_variants[0]


class DataStorageConfig(Shape):
    destination: str
    kms_key: str | None = None
    content_type: CaptureContentTypeHeader | None = None


class Schedule(Shape):
    start_time: datetime | None = None
    end_time: datetime | None = None


class StopRequest(Shape):
    """What StopInferenceExperiment asked for, kept until the reconciler has applied it."""

    actions: dict[str, VariantAction]
    desired_model_variants: list[ModelVariant] | None = None
    desired_state: ExperimentStatus = ExperimentStatus.COMPLETED
    reason: str | None = None


class ExperimentProgress(Shape):
    """Bookkeeping the reconciler needs; never shown on the wire."""

    # The endpoint config in force before the experiment deployed its shadow.
    prior_endpoint_config: EndpointConfig | None = None
    # The config the experiment deployed (or is deploying) on the endpoint.
    experiment_endpoint_config_name: str | None = None
    # The config the endpoint ends on once a stop has been applied.
    outcome_endpoint_config_name: str | None = None
    # The status to return to when an Updating step has been applied.
    status_after_update: ExperimentStatus | None = None
    stop: StopRequest | None = None
    # The outcome could not be deployed, so the shadow alone was taken off instead.
    fell_back: bool = False


class InferenceExperiment(Shape):
    name: str
    arn: str
    type: str
    status: ExperimentStatus
    endpoint_name: str
    model_variants: list[ModelVariant]
    shadow_mode_config: ShadowModeConfig
    schedule: Schedule
    creation_time: datetime
    last_modified_time: datetime
    role_arn: str | None = None
    description: str | None = None
    status_reason: str | None = None
    completion_time: datetime | None = None
    data_storage_config: DataStorageConfig | None = None
    kms_key: str | None = None
    progress: ExperimentProgress = Field(default_factory=ExperimentProgress)

    def production_variant(self) -> ModelVariant:
        return self.variant(self.shadow_mode_config.source_model_variant_name)

    def shadow_variant(self) -> ModelVariant:
        return self.variant(self.shadow_mode_config.shadow().shadow_model_variant_name)

    def variant(self, name: str) -> ModelVariant:
        for variant in self.model_variants:
            if variant.variant_name == name:
                return variant
        raise KeyError(name)

    def sampling_percentage(self) -> int:
        return self.shadow_mode_config.shadow().sampling_percentage

    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def set_variant_statuses(self, production: VariantStatus, shadow: VariantStatus) -> None:
        production_name = self.shadow_mode_config.source_model_variant_name
        for variant in self.model_variants:
            variant.status = production if variant.variant_name == production_name else shadow
