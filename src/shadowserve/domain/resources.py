"""Models, endpoint configs and endpoints as the control plane stores them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from shadowserve.domain.shapes import Shape


class ContainerDefinition(Shape):
    image: str | None = None
    model_data_url: str | None = None
    environment: dict[str, str] | None = None
    mode: str | None = None


class Model(Shape):
    model_name: str
    model_arn: str
    creation_time: datetime
    primary_container: ContainerDefinition | None = None
    containers: list[ContainerDefinition] | None = None
    execution_role_arn: str | None = None

    def serving_container(self) -> ContainerDefinition | None:
        """The container that serves requests: PrimaryContainer, else the first of Containers."""
        if self.primary_container is not None:
            return self.primary_container
        return self.containers[0] if self.containers else None


class ProductionVariant(Shape):
    variant_name: str
    model_name: str | None = None
    initial_instance_count: int | None = None
    instance_type: str | None = None
    initial_variant_weight: float | None = None
    serverless_config: dict[str, Any] | None = None  # kept as sent (PascalCase)

    def weight(self) -> float:
        return 1.0 if self.initial_variant_weight is None else self.initial_variant_weight

    def instance_count(self) -> int:
        return 1 if self.initial_instance_count is None else self.initial_instance_count


class CaptureOption(Shape):
    capture_mode: str


class CaptureContentTypeHeader(Shape):
    csv_content_types: list[str] | None = None
    json_content_types: list[str] | None = None


class DataCaptureConfig(Shape):
    destination_s3_uri: str
    initial_sampling_percentage: int
    capture_options: list[CaptureOption]
    enable_capture: bool | None = None
    kms_key_id: str | None = None
    capture_content_type_header: CaptureContentTypeHeader | None = None

    def enabled(self) -> bool:
        return self.enable_capture is not False


class EndpointConfig(Shape):
    endpoint_config_name: str
    endpoint_config_arn: str
    creation_time: datetime
    production_variants: list[ProductionVariant]
    shadow_production_variants: list[ProductionVariant] | None = None
    data_capture_config: DataCaptureConfig | None = None
    kms_key_id: str | None = None
    async_inference_config: dict[str, Any] | None = None  # kept as sent (PascalCase)

    def variant(self, name: str) -> ProductionVariant | None:
        for variant in self.production_variants + (self.shadow_production_variants or []):
            if variant.variant_name == name:
                return variant
        return None

    def model_names(self) -> list[str]:
        variants = self.production_variants + (self.shadow_production_variants or [])
        return [v.model_name for v in variants if v.model_name]


class EndpointStatus(StrEnum):
    OUT_OF_SERVICE = "OutOfService"
    CREATING = "Creating"
    UPDATING = "Updating"
    SYSTEM_UPDATING = "SystemUpdating"
    ROLLING_BACK = "RollingBack"
    IN_SERVICE = "InService"
    DELETING = "Deleting"
    FAILED = "Failed"
    UPDATE_ROLLBACK_FAILED = "UpdateRollbackFailed"


class VariantCapacity(Shape):
    """Weight and instance count set by UpdateEndpointWeightsAndCapacities over the config's."""

    variant_name: str
    desired_weight: float | None = None
    desired_instance_count: int | None = None


class Endpoint(Shape):
    endpoint_name: str
    endpoint_arn: str
    endpoint_config_name: str
    endpoint_status: EndpointStatus
    creation_time: datetime
    last_modified_time: datetime
    failure_reason: str | None = None
    # The config being rolled out while Creating or Updating; None when settled.
    pending_endpoint_config_name: str | None = None
    capacities: list[VariantCapacity] = Field(default_factory=list)

    def capacity(self, variant_name: str) -> VariantCapacity | None:
        for capacity in self.capacities:
            if capacity.variant_name == variant_name:
                return capacity
        return None

    def target_config_name(self) -> str:
        """The config the endpoint is moving to (or is on, once settled)."""
        return self.pending_endpoint_config_name or self.endpoint_config_name
