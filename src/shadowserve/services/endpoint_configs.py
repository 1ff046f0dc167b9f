"""CreateEndpointConfig, DescribeEndpointConfig, ListEndpointConfigs, DeleteEndpointConfig."""

from __future__ import annotations

from shadowserve.domain.arns import ResourceKind, Scope, resource_arn
from shadowserve.domain.errors import InvalidInput, ResourceMissing
from shadowserve.domain.resources import DataCaptureConfig, EndpointConfig, ProductionVariant
from shadowserve.domain.shapes import Shape
from shadowserve.services.context import ControlPlane
from shadowserve.services.listing import Fields, ListQuery, Page, paginate
from shadowserve.services.models import get_model
from shadowserve.services.repository import Repository
from shadowserve.services.tags import Tag, create_with_tags

CONFIG_FIELDS: Fields[EndpointConfig] = Fields(
    name=lambda c: c.endpoint_config_name, creation_time=lambda c: c.creation_time
)


class CreateEndpointConfigInput(Shape):
    endpoint_config_name: str
    production_variants: list[ProductionVariant]
    shadow_production_variants: list[ProductionVariant] | None = None
    data_capture_config: DataCaptureConfig | None = None
    kms_key_id: str | None = None
    tags: list[Tag] | None = None


def create_endpoint_config(
    plane: ControlPlane, scope: Scope, request: CreateEndpointConfigInput
) -> EndpointConfig:
    name = request.endpoint_config_name
    fields = request.model_dump(exclude={"tags"}, exclude_none=True)
    config = EndpointConfig.model_validate(
        {
            **fields,
            "endpoint_config_arn": resource_arn(scope, ResourceKind.ENDPOINT_CONFIG, name),
            "creation_time": plane.clock.now(),
        }
    )
    check_variants(config)

    def work(repo: Repository) -> EndpointConfig:
        for model_name in config.model_names():
            get_model(repo, model_name)
        return create_with_tags(
            repo, config, "endpoint configuration", config.endpoint_config_arn, request.tags
        )

    return plane.write(scope, work)


def check_variants(config: EndpointConfig) -> None:
    """Variant names are unique; a shadow needs exactly one production variant beside it."""
    variants = config.production_variants + (config.shadow_production_variants or [])
    names = [v.variant_name for v in variants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(f"Variant names must be unique within an endpoint config: {duplicates}.")
    for variant in variants:
        if not variant.model_name:
            raise InvalidInput(f"Variant {variant.variant_name} must name a model (ModelName).")
    shadows = config.shadow_production_variants or []
    if shadows and (len(shadows) != 1 or len(config.production_variants) != 1):
        raise InvalidInput(
            "With ShadowProductionVariants you may specify exactly one production variant "
            "and one shadow production variant."
        )


def get_endpoint_config(repo: Repository, name: str) -> EndpointConfig:
    found = repo.find(EndpointConfig, name)
    if found is None:
        arn = resource_arn(repo.scope, ResourceKind.ENDPOINT_CONFIG, name)
        raise ResourceMissing(f'Could not find endpoint configuration "{arn}".')
    return found.value


def describe_endpoint_config(plane: ControlPlane, scope: Scope, name: str) -> EndpointConfig:
    with plane.repository(scope) as repo:
        return get_endpoint_config(repo, name)


def list_endpoint_configs(
    plane: ControlPlane, scope: Scope, query: ListQuery
) -> Page[EndpointConfig]:
    with plane.repository(scope) as repo:
        configs = [loaded.value for loaded in repo.all(EndpointConfig)]
    return paginate(configs, query, CONFIG_FIELDS)


def delete_endpoint_config(plane: ControlPlane, scope: Scope, name: str) -> None:
    def work(repo: Repository) -> None:
        found = repo.find(EndpointConfig, name)
        if found is None:
            arn = resource_arn(scope, ResourceKind.ENDPOINT_CONFIG, name)
            raise ResourceMissing(f'Could not find endpoint configuration "{arn}".')
        repo.remove(found)
        repo.tx.delete_tags(found.value.endpoint_config_arn)

    plane.write(scope, work)
