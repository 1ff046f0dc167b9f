"""The endpoint configs an experiment deploys: shadow on start, the outcome on stop."""

from __future__ import annotations

from shadowserve.domain.errors import InvalidInput
from shadowserve.domain.experiment import (
    ExperimentStatus,
    InferenceExperiment,
    ModelVariant,
    StopRequest,
    VariantAction,
    VariantStatus,
)
from shadowserve.domain.resources import (
    CaptureOption,
    DataCaptureConfig,
    EndpointConfig,
    ProductionVariant,
)

A = VariantAction


def shadow_variants(base: EndpointConfig, experiment: InferenceExperiment) -> EndpointConfig:
    """The endpoint config that runs the experiment: its production variant plus the shadow.

    Returns an unnamed template; the caller names it and stamps its ARN and time.
    """
    production = experiment.production_variant()
    current = base.variant(production.variant_name)
    if current is None:
        raise InvalidInput(
            f"Variant {production.variant_name} is no longer on endpoint "
            f"{experiment.endpoint_name}."
        )
    config = base.model_copy(deep=True)
    # The experiment's production model serves while it runs, even when the endpoint
    # served another one before (AWS's own shadow-test example names a new model).
    serving = _sized(current, production)
    serving.model_name = production.model_name
    config.production_variants = [serving]
    config.shadow_production_variants = [_variant_from(experiment.shadow_variant())]
    if experiment.data_storage_config is not None:
        storage = experiment.data_storage_config
        # An experiment's DataStorageConfig has no sampling or mode: capture everything.
        config.data_capture_config = DataCaptureConfig(
            enable_capture=True,
            destination_s3_uri=storage.destination,
            initial_sampling_percentage=100,
            kms_key_id=storage.kms_key,
            capture_options=[
                CaptureOption(capture_mode="Input"),
                CaptureOption(capture_mode="Output"),
            ],
            capture_content_type_header=storage.content_type,
        )
    return config


def check_stop_request(experiment: InferenceExperiment, stop: StopRequest) -> None:
    names = {v.variant_name for v in experiment.model_variants}
    unknown = sorted(set(stop.actions) - names)
    if unknown:
        raise InvalidInput(f"ModelVariantActions names variants not in the experiment: {unknown}.")
    production = experiment.shadow_mode_config.source_model_variant_name
    shadow = experiment.shadow_mode_config.shadow().shadow_model_variant_name
    production_action = stop.actions.get(production, A.RETAIN)
    shadow_action = stop.actions.get(shadow, A.REMOVE)
    if production_action == A.PROMOTE:
        raise InvalidInput(f"Only the shadow variant {shadow} can be promoted.")
    if shadow_action == A.PROMOTE and production_action != A.REMOVE:
        raise InvalidInput(
            f"Promoting {shadow} replaces the production variant: "
            f"set the action of {production} to Remove."
        )
    if production_action == A.REMOVE and shadow_action != A.PROMOTE:
        raise InvalidInput(
            f"Removing {production} leaves the endpoint without a production variant: "
            f"promote {shadow} as well."
        )
    for desired in stop.desired_model_variants or []:
        if desired.variant_name not in names:
            raise InvalidInput(
                f"DesiredModelVariants names {desired.variant_name}, "
                "not a variant of the experiment."
            )


def outcome_config(
    experiment: InferenceExperiment, stop: StopRequest, prior: EndpointConfig
) -> EndpointConfig | None:
    """The config the endpoint keeps after the experiment; None means "the prior one as it was"."""
    production = experiment.production_variant()
    shadow = experiment.shadow_variant()
    desired = {v.variant_name: v for v in stop.desired_model_variants or []}
    shadow_action = stop.actions.get(shadow.variant_name, A.REMOVE)
    current = prior.variant(production.variant_name)
    model = _production_model_after(experiment, stop, current)
    unchanged = current is None or model == current.model_name
    if shadow_action == A.REMOVE and production.variant_name not in desired and unchanged:
        return None
    config = prior.model_copy(deep=True)
    if shadow_action == A.PROMOTE:
        # The promoted variant answers everything; production is removed (SageMaker's console).
        promoted = _variant_from(desired.get(shadow.variant_name, shadow))
        config.production_variants = [promoted]
        config.shadow_production_variants = None
        return config
    if current is not None:
        kept = current.model_copy(deep=True)
        if production.variant_name in desired:
            kept = _sized(current, desired[production.variant_name])
        kept.model_name = model
        config.production_variants = [kept]
    if shadow_action == A.RETAIN:
        config.shadow_production_variants = [
            _variant_from(desired.get(shadow.variant_name, shadow))
        ]
    return config


def _production_model_after(
    experiment: InferenceExperiment, stop: StopRequest, before: ProductionVariant | None
) -> str | None:
    """The model a retained production variant serves after the experiment: the one
    DesiredModelVariants names; else, when the experiment completes, the model it ran as
    production (kept); when it is cancelled, the model from before the experiment (restored)."""
    production = experiment.production_variant()
    for desired in stop.desired_model_variants or []:
        if desired.variant_name == production.variant_name and desired.model_name:
            return desired.model_name
    if stop.desired_state == ExperimentStatus.CANCELLED and before is not None:
        return before.model_name
    return production.model_name


def mark_stopping(experiment: InferenceExperiment, stop: StopRequest) -> None:
    for variant in experiment.model_variants:
        action = _action_for(experiment, stop, variant.variant_name)
        variant.status = {
            A.REMOVE: VariantStatus.DELETING,
            A.PROMOTE: VariantStatus.UPDATING,
            A.RETAIN: VariantStatus.IN_SERVICE,
        }[action]


def mark_stopped(experiment: InferenceExperiment, stop: StopRequest, deployed: bool) -> None:
    for variant in experiment.model_variants:
        action = _action_for(experiment, stop, variant.variant_name)
        removed = action == A.REMOVE
        never_deployed = (
            not deployed and variant.variant_name == experiment.shadow_variant().variant_name
        )
        variant.status = (
            VariantStatus.DELETED if removed or never_deployed else VariantStatus.IN_SERVICE
        )


def end_of_schedule_stop() -> StopRequest:
    """When the schedule ends the endpoint reverts: the shadow is removed, production kept."""
    return StopRequest(actions={}, desired_state=ExperimentStatus.COMPLETED)


def _action_for(experiment: InferenceExperiment, stop: StopRequest, name: str) -> VariantAction:
    default = A.RETAIN if name == experiment.production_variant().variant_name else A.REMOVE
    return stop.actions.get(name, default)


def _sized(current: ProductionVariant, variant: ModelVariant) -> ProductionVariant:
    resized = current.model_copy(deep=True)
    resized.initial_variant_weight = current.weight()  # written out, as SageMaker describes it
    resized.instance_type = variant.instance_type()
    resized.initial_instance_count = variant.instance_count()
    return resized


def _variant_from(variant: ModelVariant) -> ProductionVariant:
    return ProductionVariant(
        variant_name=variant.variant_name,
        model_name=variant.model_name,
        instance_type=variant.instance_type(),
        initial_instance_count=variant.instance_count(),
        initial_variant_weight=1.0,
    )
