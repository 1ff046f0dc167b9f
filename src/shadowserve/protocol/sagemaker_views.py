"""Responses whose members are computed rather than stored: endpoints and experiments."""

from __future__ import annotations

from typing import Any

from shadowserve.domain.resources import (
    DataCaptureConfig,
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    Model,
    ProductionVariant,
)
from shadowserve.services.endpoints import EndpointView
from shadowserve.services.experiments import ExperimentView


def describe_endpoint(view: EndpointView) -> dict[str, Any]:
    endpoint = view.endpoint
    body: dict[str, Any] = {
        "EndpointName": endpoint.endpoint_name,
        "EndpointArn": endpoint.endpoint_arn,
        "EndpointConfigName": endpoint.endpoint_config_name,
        "EndpointStatus": endpoint.endpoint_status.value,
        "FailureReason": endpoint.failure_reason,
        "CreationTime": endpoint.creation_time,
        "LastModifiedTime": endpoint.last_modified_time,
    }
    deployed = endpoint.endpoint_status != EndpointStatus.CREATING
    if view.config is not None:
        body["ProductionVariants"] = [
            _variant_summary(view, v, deployed) for v in view.config.production_variants
        ]
        if view.config.shadow_production_variants:
            body["ShadowProductionVariants"] = [
                _variant_summary(view, v, deployed) for v in view.config.shadow_production_variants
            ]
        if view.config.data_capture_config is not None:
            body["DataCaptureConfig"] = _capture_summary(view.config.data_capture_config)
        if view.config.async_inference_config is not None:
            body["AsyncInferenceConfig"] = view.config.async_inference_config
    if view.pending_config is not None and endpoint.pending_endpoint_config_name:
        body["PendingDeploymentSummary"] = _pending(view.pending_config, endpoint)
    return body


def _variant_summary(
    view: EndpointView, variant: ProductionVariant, deployed: bool
) -> dict[str, Any]:
    endpoint = view.endpoint
    capacity = endpoint.capacity(variant.variant_name)
    weight = variant.weight()
    count = variant.instance_count()
    if capacity is not None:
        weight = capacity.desired_weight if capacity.desired_weight is not None else weight
        if capacity.desired_instance_count is not None:
            count = capacity.desired_instance_count
    summary: dict[str, Any] = {
        "VariantName": variant.variant_name,
        "DesiredWeight": weight,
        "DesiredInstanceCount": count,
    }
    if deployed:
        live = view.live_instance_count(variant.variant_name)
        summary["CurrentWeight"] = weight
        summary["CurrentInstanceCount"] = count if live is None else live
        image = view.images.get(variant.model_name or "")
        if image is not None:
            # Tags are not resolved to digests here: the image as specified is what runs.
            summary["DeployedImages"] = [
                {"SpecifiedImage": image, "ResolvedImage": image,
                 "ResolutionTime": endpoint.last_modified_time}
            ]  # fmt: skip
    if variant.serverless_config is not None:
        summary["DesiredServerlessConfig"] = variant.serverless_config
        if deployed:
            summary["CurrentServerlessConfig"] = variant.serverless_config
    summary["VariantStatus"] = _variant_status(endpoint)
    return summary


_TRANSITIONS = {
    EndpointStatus.CREATING: "Creating",
    EndpointStatus.UPDATING: "Updating",
    EndpointStatus.SYSTEM_UPDATING: "Updating",
    EndpointStatus.ROLLING_BACK: "Updating",
    EndpointStatus.DELETING: "Deleting",
}


def _variant_status(endpoint: Endpoint) -> list[dict[str, Any]]:
    """The stage a variant's deployment is in; empty once it serves as configured."""
    stage = _TRANSITIONS.get(endpoint.endpoint_status)
    if stage is None:
        return []
    return [{"Status": stage, "StartTime": endpoint.last_modified_time}]


def describe_model(model: Model) -> dict[str, Any]:
    """A model as SageMaker describes it, with the defaults it fills in."""
    body = model.model_dump(exclude_none=True)
    body.setdefault("EnableNetworkIsolation", False)
    for container in [body.get("PrimaryContainer"), *body.get("Containers", [])]:
        if container is not None:
            container.setdefault("Mode", "SingleModel")
    return body


def describe_endpoint_config(config: EndpointConfig) -> dict[str, Any]:
    """A config as SageMaker describes it: every variant's weight, 1.0 unless set."""
    body = config.model_dump(exclude_none=True)
    for key in ("ProductionVariants", "ShadowProductionVariants"):
        for variant in body.get(key) or []:
            variant.setdefault("InitialVariantWeight", 1.0)
    return body


def _capture_summary(capture: DataCaptureConfig) -> dict[str, Any]:
    return {
        "EnableCapture": capture.enabled(),
        "CaptureStatus": "Started" if capture.enabled() else "Stopped",
        "CurrentSamplingPercentage": capture.initial_sampling_percentage,
        "DestinationS3Uri": capture.destination_s3_uri,
        **({"KmsKeyId": capture.kms_key_id} if capture.kms_key_id else {}),
    }


def _pending(config: EndpointConfig, endpoint: Endpoint) -> dict[str, Any]:
    def pending_variant(variant: ProductionVariant) -> dict[str, Any]:
        return {
            "VariantName": variant.variant_name,
            "DesiredWeight": variant.weight(),
            "DesiredInstanceCount": variant.instance_count(),
            "InstanceType": variant.instance_type,
        }

    summary: dict[str, Any] = {
        "EndpointConfigName": config.endpoint_config_name,
        "ProductionVariants": [pending_variant(v) for v in config.production_variants],
        "StartTime": endpoint.last_modified_time,
    }
    if config.shadow_production_variants:
        summary["ShadowProductionVariants"] = [
            pending_variant(v) for v in config.shadow_production_variants
        ]
    return summary


def describe_inference_experiment(view: ExperimentView) -> dict[str, Any]:
    experiment = view.experiment
    body = experiment.model_dump(exclude={"progress", "endpoint_name"}, exclude_none=True)
    metadata: dict[str, Any] = {"EndpointName": experiment.endpoint_name}
    if view.endpoint is not None:
        metadata["EndpointConfigName"] = view.endpoint.endpoint_config_name
        metadata["EndpointStatus"] = view.endpoint.endpoint_status.value
        metadata["FailureReason"] = view.endpoint.failure_reason
    body["EndpointMetadata"] = metadata
    return body
