"""CreateModel, DescribeModel, ListModels, DeleteModel."""

from __future__ import annotations

from shadowserve.domain.arns import ResourceKind, Scope, resource_arn
from shadowserve.domain.errors import InvalidInput, ResourceMissing
from shadowserve.domain.resources import ContainerDefinition, Model
from shadowserve.domain.shapes import Shape
from shadowserve.services.context import ControlPlane
from shadowserve.services.listing import Fields, ListQuery, Page, paginate
from shadowserve.services.repository import Repository
from shadowserve.services.tags import Tag, create_with_tags

MODEL_FIELDS: Fields[Model] = Fields(
    name=lambda m: m.model_name, creation_time=lambda m: m.creation_time
)


class CreateModelInput(Shape):
    model_name: str
    primary_container: ContainerDefinition | None = None
    containers: list[ContainerDefinition] | None = None
    execution_role_arn: str | None = None
    tags: list[Tag] | None = None


def create_model(plane: ControlPlane, scope: Scope, request: CreateModelInput) -> Model:
    if request.primary_container is None and not request.containers:
        raise InvalidInput("Either PrimaryContainer or Containers must be specified.")
    fields = request.model_dump(exclude={"tags", "model_name"}, exclude_none=True)
    model = Model.model_validate(
        {
            **fields,
            "model_name": request.model_name,
            "model_arn": plane.arn(scope, ResourceKind.MODEL, request.model_name),
            "creation_time": plane.clock.now(),
        }
    )
    kind = "Model"
    return plane.write(
        scope, lambda repo: create_with_tags(repo, model, kind, model.model_arn, request.tags)
    )


def get_model(repo: Repository, name: str) -> Model:
    found = repo.find(Model, name)
    if found is None:
        raise ResourceMissing(f'Could not find model "{_arn(repo.scope, name)}".')
    return found.value


def describe_model(plane: ControlPlane, scope: Scope, name: str) -> Model:
    with plane.repository(scope) as repo:
        return get_model(repo, name)


def list_models(plane: ControlPlane, scope: Scope, query: ListQuery) -> Page[Model]:
    with plane.repository(scope) as repo:
        models = [loaded.value for loaded in repo.all(Model)]
    return paginate(models, query, MODEL_FIELDS)


def delete_model(plane: ControlPlane, scope: Scope, name: str) -> None:
    def work(repo: Repository) -> None:
        found = repo.find(Model, name)
        if found is None:
            raise ResourceMissing(f'Could not find model "{_arn(scope, name)}".')
        repo.remove(found)
        repo.tx.delete_tags(found.value.model_arn)

    plane.write(scope, work)


def _arn(scope: Scope, name: str) -> str:
    return resource_arn(scope, ResourceKind.MODEL, name)
