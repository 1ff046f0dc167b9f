"""CreateEndpoint, DescribeEndpoint, ListEndpoints, UpdateEndpoint,
UpdateEndpointWeightsAndCapacities and DeleteEndpoint.

These calls only record the desired state; the reconciler rolls it out through the runtime
and moves the status (Creating/Updating → InService or Failed, Deleting → gone).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from shadowserve.domain.arns import ResourceKind, Scope, resource_arn
from shadowserve.domain.errors import InvalidInput, ResourceMissing
from shadowserve.domain.experiment import InferenceExperiment
from shadowserve.domain.resources import (
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    Model,
    VariantCapacity,
)
from shadowserve.domain.shapes import Shape
from shadowserve.services.context import ControlPlane
from shadowserve.services.endpoint_configs import get_endpoint_config
from shadowserve.services.listing import Fields, ListQuery, Page, paginate
from shadowserve.services.repository import Loaded, Repository
from shadowserve.services.runtime import Placement
from shadowserve.services.tags import Tag, create_with_tags

ENDPOINT_FIELDS: Fields[Endpoint] = Fields(
    name=lambda e: e.endpoint_name,
    creation_time=lambda e: e.creation_time,
    last_modified_time=lambda e: e.last_modified_time,
    status=lambda e: e.endpoint_status.value,
)


class CreateEndpointInput(Shape):
    endpoint_name: str
    endpoint_config_name: str
    tags: list[Tag] | None = None


class DesiredWeightAndCapacity(Shape):
    variant_name: str
    desired_weight: float | None = None
    desired_instance_count: int | None = None


@dataclass(frozen=True)
class EndpointView:
    """An endpoint with the configs it runs and is moving to, as Describe shows it."""

    endpoint: Endpoint
    config: EndpointConfig | None
    pending_config: EndpointConfig | None
    images: dict[str, str] = field(default_factory=dict)  # model name → its serving image
    # Variant name → its instances now, where the runtime reports them (ControlPlane).
    placements: dict[str, list[Placement]] | None = None

    def live_instance_count(self, variant_name: str) -> int | None:
        if self.placements is None:
            return None
        return sum(p.healthy for p in self.placements.get(variant_name, []))


def create_endpoint(plane: ControlPlane, scope: Scope, request: CreateEndpointInput) -> Endpoint:
    now = plane.clock.now()
    endpoint = Endpoint(
        endpoint_name=request.endpoint_name,
        endpoint_arn=resource_arn(scope, ResourceKind.ENDPOINT, request.endpoint_name),
        endpoint_config_name=request.endpoint_config_name,
        endpoint_status=EndpointStatus.CREATING,
        creation_time=now,
        last_modified_time=now,
    )

    def work(repo: Repository) -> Endpoint:
        config = get_endpoint_config(repo, request.endpoint_config_name)
        endpoint.endpoint_config_name = config.endpoint_config_name
        return create_with_tags(repo, endpoint, "endpoint", endpoint.endpoint_arn, request.tags)

    return plane.write(scope, work)


def find_endpoint(repo: Repository, name: str) -> Loaded[Endpoint]:
    found = repo.find(Endpoint, name)
    if found is None:
        arn = resource_arn(repo.scope, ResourceKind.ENDPOINT, name)
        raise ResourceMissing(f'Could not find endpoint "{arn}".')
    return found


def describe_endpoint(plane: ControlPlane, scope: Scope, name: str) -> EndpointView:
    with plane.repository(scope) as repo:
        endpoint = find_endpoint(repo, name).value
        view = view_of(repo, endpoint)
    if plane.placements is None:
        return view
    return replace(view, placements=plane.placements.placements(scope, endpoint.endpoint_name))


def view_of(repo: Repository, endpoint: Endpoint) -> EndpointView:
    config = repo.find(EndpointConfig, endpoint.endpoint_config_name)
    pending_name = endpoint.pending_endpoint_config_name
    pending = repo.find(EndpointConfig, pending_name) if pending_name else None
    images = {}
    for name in config.value.model_names() if config else []:
        model = repo.find(Model, name)
        container = model.value.serving_container() if model else None
        if container is not None and container.image:
            images[name] = container.image
    return EndpointView(
        endpoint, config.value if config else None, pending.value if pending else None, images
    )


def list_endpoints(plane: ControlPlane, scope: Scope, query: ListQuery) -> Page[Endpoint]:
    with plane.repository(scope) as repo:
        endpoints = [loaded.value for loaded in repo.all(Endpoint)]
    return paginate(endpoints, query, ENDPOINT_FIELDS)


def update_endpoint(plane: ControlPlane, scope: Scope, name: str, config_name: str) -> Endpoint:
    def work(repo: Repository) -> Endpoint:
        found = find_endpoint(repo, name)
        _ensure_updatable(repo, found.value)
        config = get_endpoint_config(repo, config_name)
        begin_rollout(repo, found, config.endpoint_config_name, plane.clock.now())
        return found.value

    return plane.write(scope, work)


def update_endpoint_weights_and_capacities(
    plane: ControlPlane, scope: Scope, name: str, desired: list[DesiredWeightAndCapacity]
) -> Endpoint:
    def work(repo: Repository) -> Endpoint:
        found = find_endpoint(repo, name)
        endpoint = found.value
        _ensure_updatable(repo, endpoint)
        config = get_endpoint_config(repo, endpoint.endpoint_config_name)
        for change in desired:
            _apply_capacity(endpoint, config, change)
        begin_rollout(repo, found, endpoint.endpoint_config_name, plane.clock.now(), False)
        return endpoint

    return plane.write(scope, work)


def delete_endpoint(plane: ControlPlane, scope: Scope, name: str) -> None:
    def work(repo: Repository) -> Endpoint:
        found = find_endpoint(repo, name)
        _ensure_no_experiment(repo, found.value, "deleted")
        found.value.endpoint_status = EndpointStatus.DELETING
        found.value.last_modified_time = plane.clock.now()
        repo.save(found)
        return found.value

    deleted = plane.write(scope, work)
    # Once DeleteEndpoint has answered, invocations get "not found"-class errors at once;
    # the reconciler frees the workers on its next pass.
    plane.runtime.withdraw(scope, deleted.endpoint_name, deleted.creation_time)


def begin_rollout(
    repo: Repository,
    found: Loaded[Endpoint],
    config_name: str,
    now: datetime,
    reset_capacities: bool = True,
) -> None:
    """Mark the endpoint Updating towards ``config_name``; the reconciler does the rest."""
    endpoint = found.value
    endpoint.endpoint_status = EndpointStatus.UPDATING
    endpoint.pending_endpoint_config_name = config_name
    endpoint.failure_reason = None
    if reset_capacities:
        endpoint.capacities = []
    endpoint.last_modified_time = now
    repo.save(found)


def _apply_capacity(
    endpoint: Endpoint, config: EndpointConfig, change: DesiredWeightAndCapacity
) -> None:
    if config.variant(change.variant_name) is None:
        raise InvalidInput(
            f"The variant name(s) [{change.variant_name}] is/are not present in the "
            f"endpoint {endpoint.endpoint_name}."
        )
    if change.desired_weight is None and change.desired_instance_count is None:
        raise InvalidInput(
            f"Provide DesiredWeight or DesiredInstanceCount for variant {change.variant_name}."
        )
    capacity = endpoint.capacity(change.variant_name)
    if capacity is None:
        capacity = VariantCapacity(variant_name=change.variant_name)
        endpoint.capacities.append(capacity)
    if change.desired_weight is not None:
        capacity.desired_weight = change.desired_weight
    if change.desired_instance_count is not None:
        capacity.desired_instance_count = change.desired_instance_count


def _ensure_updatable(repo: Repository, endpoint: Endpoint) -> None:
    if endpoint.endpoint_status not in (EndpointStatus.IN_SERVICE, EndpointStatus.FAILED):
        raise InvalidInput(f'Cannot update in-progress endpoint "{endpoint.endpoint_arn}".')
    _ensure_no_experiment(repo, endpoint, "updated")


def _ensure_no_experiment(repo: Repository, endpoint: Endpoint, verb: str) -> None:
    for loaded in repo.all(InferenceExperiment):
        experiment = loaded.value
        same = experiment.endpoint_name.lower() == endpoint.endpoint_name.lower()
        if same and experiment.is_active():
            raise InvalidInput(
                f"Endpoint {endpoint.endpoint_name} cannot be {verb} while inference experiment "
                f"{experiment.name} is {experiment.status} on it."
            )


def endpoint_status(
    plane: ControlPlane, scope: Scope, name: str
) -> tuple[EndpointStatus, str | None] | None:
    """Status and failure reason of an endpoint, or None if it does not exist."""
    with plane.repository(scope) as repo:
        found = repo.find(Endpoint, name)
    if found is None:
        return None
    return found.value.endpoint_status, found.value.failure_reason
