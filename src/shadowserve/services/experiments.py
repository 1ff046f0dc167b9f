"""The inference-experiment operations: Create, Describe, List, Update, Start, Stop, Delete.

Calls record intent and move the status into its transitional form (Creating, Updating,
Starting, Stopping); the reconciler (services/experiment_steps.py) carries it out.
"""

from __future__ import annotations

from dataclasses import dataclass

from shadowserve.domain import experiment_lifecycle
from shadowserve.domain.arns import ResourceKind, Scope, resource_arn
from shadowserve.domain.errors import InvalidInput, ResourceInUse, ResourceNotFound
from shadowserve.domain.experiment import (
    DataStorageConfig,
    ExperimentStatus,
    InferenceExperiment,
    ModelVariant,
    Schedule,
    ShadowModeConfig,
    StopRequest,
    VariantAction,
    VariantStatus,
)
from shadowserve.domain.experiment_configs import check_stop_request, mark_stopped, mark_stopping
from shadowserve.domain.resources import Endpoint, EndpointStatus
from shadowserve.domain.shapes import Shape
from shadowserve.services.context import ControlPlane
from shadowserve.services.endpoint_configs import get_endpoint_config
from shadowserve.services.endpoints import find_endpoint
from shadowserve.services.listing import Fields, ListQuery, Page, paginate
from shadowserve.services.models import get_model
from shadowserve.services.repository import Loaded, Repository
from shadowserve.services.tags import Tag, create_with_tags

S = ExperimentStatus

EXPERIMENT_FIELDS: Fields[InferenceExperiment] = Fields(
    name=lambda e: e.name,
    creation_time=lambda e: e.creation_time,
    last_modified_time=lambda e: e.last_modified_time,
    status=lambda e: e.status.value,
    type=lambda e: e.type,
)


class CreateInferenceExperimentInput(Shape):
    name: str
    type: str
    role_arn: str
    endpoint_name: str
    model_variants: list[ModelVariant]
    shadow_mode_config: ShadowModeConfig
    schedule: Schedule | None = None
    description: str | None = None
    data_storage_config: DataStorageConfig | None = None
    kms_key: str | None = None
    tags: list[Tag] | None = None


class UpdateInferenceExperimentInput(Shape):
    name: str
    schedule: Schedule | None = None
    description: str | None = None
    model_variants: list[ModelVariant] | None = None
    data_storage_config: DataStorageConfig | None = None
    shadow_mode_config: ShadowModeConfig | None = None


class StopInferenceExperimentInput(Shape):
    name: str
    model_variant_actions: dict[str, VariantAction]
    desired_model_variants: list[ModelVariant] | None = None
    desired_state: S | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ExperimentView:
    experiment: InferenceExperiment
    endpoint: Endpoint | None


def create_inference_experiment(
    plane: ControlPlane, scope: Scope, request: CreateInferenceExperimentInput
) -> InferenceExperiment:
    now = plane.clock.now()
    experiment_lifecycle.check_variant_roles(request.model_variants, request.shadow_mode_config)
    fields = request.model_dump(exclude={"tags", "schedule"}, exclude_none=True)
    experiment = InferenceExperiment.model_validate(
        {
            **fields,
            "arn": resource_arn(scope, ResourceKind.INFERENCE_EXPERIMENT, request.name),
            "status": S.CREATING,
            "schedule": experiment_lifecycle.settle_schedule(request.schedule, now),
            "creation_time": now,
            "last_modified_time": now,
        }
    )
    experiment.set_variant_statuses(VariantStatus.IN_SERVICE, VariantStatus.CREATING)

    def work(repo: Repository) -> InferenceExperiment:
        if repo.find(InferenceExperiment, request.name) is not None:
            raise ResourceInUse(f"Inference experiment {request.name} already exists.")
        endpoint = find_endpoint(repo, request.endpoint_name).value
        experiment.endpoint_name = endpoint.endpoint_name
        busy = active_experiment_on(repo, endpoint.endpoint_name)
        if busy is not None:
            raise ResourceInUse(
                f"Endpoint {endpoint.endpoint_name} already has an active inference experiment "
                f"{busy.name} ({busy.status}); an endpoint runs one experiment at a time."
            )
        check_against_endpoint(repo, experiment, endpoint)
        return create_with_tags(
            repo, experiment, "inference experiment", experiment.arn, request.tags
        )

    return plane.write(scope, work)


def check_against_endpoint(
    repo: Repository, experiment: InferenceExperiment, endpoint: Endpoint
) -> None:
    """The experiment's production variant is the endpoint's; its models exist. The
    production model may differ from the one the endpoint serves: the experiment deploys it
    to the production variant while it runs (docs/decisions.md)."""
    if endpoint.endpoint_status != EndpointStatus.IN_SERVICE:
        raise InvalidInput(
            f"Endpoint {endpoint.endpoint_name} must be InService to run an inference "
            f"experiment; it is {endpoint.endpoint_status}."
        )
    config = get_endpoint_config(repo, endpoint.endpoint_config_name)
    production = experiment.production_variant()
    shadow = experiment.shadow_variant()
    names = [v.variant_name for v in config.production_variants]
    if production.variant_name not in names:
        raise InvalidInput(
            f"SourceModelVariantName {production.variant_name} is not a production variant of "
            f"endpoint {endpoint.endpoint_name}; its production variants are {names}."
        )
    if len(names) != 1 or config.shadow_production_variants:
        raise InvalidInput(
            f"Endpoint {endpoint.endpoint_name} must have exactly one production variant and "
            "no shadow variant to run an inference experiment."
        )
    if config.async_inference_config is not None:
        raise InvalidInput(
            f"Endpoint {endpoint.endpoint_name} is an asynchronous inference endpoint; "
            "inference experiments run only on real-time endpoints."
        )
    if any(v.serverless_config is not None for v in config.production_variants):
        raise InvalidInput(
            f"Endpoint {endpoint.endpoint_name} is a serverless endpoint; inference "
            "experiments run only on real-time endpoints with instances."
        )
    get_model(repo, production.model_name)
    get_model(repo, shadow.model_name)


def active_experiment_on(repo: Repository, endpoint_name: str) -> InferenceExperiment | None:
    for loaded in repo.all(InferenceExperiment):
        same = loaded.value.endpoint_name.lower() == endpoint_name.lower()
        if same and loaded.value.is_active():
            return loaded.value
    return None


def find_experiment(repo: Repository, name: str) -> Loaded[InferenceExperiment]:
    found = repo.find(InferenceExperiment, name)
    if found is None:
        raise ResourceNotFound(f"Inference experiment {name} does not exist.")
    return found


def describe_inference_experiment(plane: ControlPlane, scope: Scope, name: str) -> ExperimentView:
    with plane.repository(scope) as repo:
        experiment = find_experiment(repo, name).value
        endpoint = repo.find(Endpoint, experiment.endpoint_name)
        return ExperimentView(experiment, endpoint.value if endpoint else None)


def list_inference_experiments(
    plane: ControlPlane, scope: Scope, query: ListQuery
) -> Page[InferenceExperiment]:
    with plane.repository(scope) as repo:
        experiments = [loaded.value for loaded in repo.all(InferenceExperiment)]
    return paginate(experiments, query, EXPERIMENT_FIELDS)


def update_inference_experiment(
    plane: ControlPlane, scope: Scope, request: UpdateInferenceExperimentInput
) -> InferenceExperiment:
    def work(repo: Repository) -> InferenceExperiment:
        found = find_experiment(repo, request.name)
        experiment = found.value
        experiment_lifecycle.ensure_allowed("update", experiment)
        now = plane.clock.now()
        if experiment.status == S.RUNNING:
            _update_running(experiment, request)
        else:
            _update_created(repo, experiment, request)
        if request.schedule is not None:
            experiment.schedule = experiment_lifecycle.schedule_for_update(
                experiment, request.schedule, now
            )
        if request.description is not None:
            experiment.description = request.description
        experiment.progress.status_after_update = experiment.status
        experiment.status = S.UPDATING
        experiment.last_modified_time = now
        repo.save(found)
        return experiment

    return plane.write(scope, work)


def _update_running(
    experiment: InferenceExperiment, request: UpdateInferenceExperimentInput
) -> None:
    """After the start only the description, the end time and the sampling may change."""
    for field, label in (
        ("model_variants", "ModelVariants"),
        ("data_storage_config", "DataStorageConfig"),
    ):
        if getattr(request, field) is not None:
            raise InvalidInput(
                f"{label} cannot be changed while the inference experiment is Running; only "
                "Description, Schedule.EndTime and the SamplingPercentage can."
            )
    new_mode = request.shadow_mode_config
    if new_mode is None:
        return
    current = experiment.shadow_mode_config
    same_source = new_mode.source_model_variant_name == current.source_model_variant_name
    same_shadow = [v.shadow_model_variant_name for v in new_mode.shadow_model_variants] == [
        current.shadow().shadow_model_variant_name
    ]
    if not (same_source and same_shadow):
        raise InvalidInput(
            "The variants of a Running inference experiment cannot be changed; only the "
            "SamplingPercentage of its shadow variant can."
        )
    experiment_lifecycle.check_variant_roles(experiment.model_variants, new_mode)
    experiment.shadow_mode_config = new_mode


def _update_created(
    repo: Repository, experiment: InferenceExperiment, request: UpdateInferenceExperimentInput
) -> None:
    variants = request.model_variants or experiment.model_variants
    mode = request.shadow_mode_config or experiment.shadow_mode_config
    experiment_lifecycle.check_variant_roles(variants, mode)
    experiment.model_variants = variants
    experiment.shadow_mode_config = mode
    experiment.set_variant_statuses(VariantStatus.IN_SERVICE, VariantStatus.CREATING)
    if request.model_variants is not None or request.shadow_mode_config is not None:
        check_against_endpoint(
            repo, experiment, find_endpoint(repo, experiment.endpoint_name).value
        )
    if request.data_storage_config is not None:
        experiment.data_storage_config = request.data_storage_config


def start_inference_experiment(plane: ControlPlane, scope: Scope, name: str) -> InferenceExperiment:
    def work(repo: Repository) -> InferenceExperiment:
        found = find_experiment(repo, name)
        experiment = found.value
        experiment_lifecycle.ensure_allowed("start", experiment)
        now = plane.clock.now()
        experiment.schedule = experiment_lifecycle.schedule_for_early_start(
            experiment.schedule, now
        )
        experiment.status = S.STARTING
        experiment.last_modified_time = now
        repo.save(found)
        return experiment

    return plane.write(scope, work)


def stop_inference_experiment(
    plane: ControlPlane, scope: Scope, request: StopInferenceExperimentInput
) -> InferenceExperiment:
    stop = StopRequest(
        actions=request.model_variant_actions,
        desired_model_variants=request.desired_model_variants,
        desired_state=request.desired_state or S.COMPLETED,
        reason=request.reason,
    )
    if stop.desired_state not in (S.COMPLETED, S.CANCELLED):
        raise InvalidInput("DesiredState must be Completed or Cancelled.")

    def work(repo: Repository) -> InferenceExperiment:
        found = find_experiment(repo, request.name)
        experiment = found.value
        experiment_lifecycle.ensure_allowed("stop", experiment)
        check_stop_request(experiment, stop)
        now = plane.clock.now()
        experiment.last_modified_time = now
        experiment.status_reason = stop.reason
        if experiment.status == S.CREATED:
            # Nothing was deployed yet: the experiment ends here and the endpoint is untouched.
            mark_stopped(experiment, stop, deployed=False)
            experiment.status = stop.desired_state
            experiment.completion_time = now
        else:
            mark_stopping(experiment, stop)
            experiment.progress.stop = stop
            experiment.status = S.STOPPING
        repo.save(found)
        return experiment

    return plane.write(scope, work)


def delete_inference_experiment(
    plane: ControlPlane, scope: Scope, name: str
) -> InferenceExperiment:
    def work(repo: Repository) -> InferenceExperiment:
        found = find_experiment(repo, name)
        experiment_lifecycle.ensure_allowed("delete", found.value)
        repo.remove(found)
        repo.tx.delete_tags(found.value.arn)
        return found.value

    return plane.write(scope, work)
