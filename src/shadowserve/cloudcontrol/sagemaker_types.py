"""AWS::SageMaker::Model, ::EndpointConfig and ::Endpoint over the same services the
SageMaker API uses, so a resource made through one is seen through the other."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from shadowserve.cloudcontrol.handler import (
    DONE,
    WAIT,
    HandlerFailure,
    Settled,
    failure_from,
    generated_name,
    not_found,
    properties,
    tags_of,
    update_tags,
)
from shadowserve.cloudcontrol.schemas import schema_for
from shadowserve.domain.arns import Scope, parse_arn
from shadowserve.domain.errors import DomainError
from shadowserve.domain.resources import Endpoint, EndpointConfig, EndpointStatus, Model
from shadowserve.services import endpoint_configs, endpoints, models
from shadowserve.services.context import ControlPlane
from shadowserve.services.listing import ListQuery


def name_of(identifier: str) -> str:
    """Identifiers are ARNs for these types; a plain name is accepted too."""
    parsed = parse_arn(identifier)
    return parsed.name_key if parsed else identifier


def _find(plane: ControlPlane, scope: Scope, cls: type[Any], identifier: str) -> Any:
    with plane.repository(scope) as repo:
        found = repo.find(cls, name_of(identifier))
    return None if found is None else found.value


def _everything(query_pages: Any) -> list[Any]:
    items, token = [], None
    while True:
        page = query_pages(ListQuery(max_results=100, next_token=token))
        items += page.items
        token = page.next_token
        if token is None:
            return items


class ImmediateType(ABC):
    """Types whose every property but Tags is createOnly, and that settle at once: read by
    name (or ARN), deleted by name, properties limited to the type's schema."""

    type_name: str
    name_property: str
    resource: type[Any]  # the domain class stored under the name

    def __init__(self) -> None:
        self._allowed = set(schema_for(self.type_name).document["properties"])  # type: ignore[union-attr]

    def read(self, plane: ControlPlane, scope: Scope, identifier: str) -> dict[str, Any] | None:
        found = _find(plane, scope, self.resource, identifier)
        return None if found is None else self._properties(plane, scope, found)

    def delete(self, plane: ControlPlane, scope: Scope, identifier: str) -> None:
        try:
            self._delete(plane, scope, name_of(identifier))
        except DomainError as exc:
            raise failure_from(exc, self.type_name, identifier) from exc

    @abstractmethod
    def _properties(self, plane: ControlPlane, scope: Scope, value: Any) -> dict[str, Any]: ...

    @abstractmethod
    def _delete(self, plane: ControlPlane, scope: Scope, name: str) -> None: ...

    def update(self, plane: ControlPlane, scope: Scope, identifier: str,
               current: dict[str, Any], desired: dict[str, Any]) -> None:  # fmt: skip
        update_tags(plane, scope, identifier, current.get("Tags"), desired.get("Tags"))

    def settled(  # the handler protocol's signature; nothing to wait for here
        self,
        plane: ControlPlane,  # noqa: ARG002
        scope: Scope,  # noqa: ARG002
        identifier: str,  # noqa: ARG002
        operation: str,  # noqa: ARG002
    ) -> Settled:
        return DONE


class ModelType(ImmediateType):
    type_name = "AWS::SageMaker::Model"
    name_property = "ModelName"
    resource = Model

    def _properties(self, plane: ControlPlane, scope: Scope, model: Model) -> dict[str, Any]:
        found = properties(model, self._allowed)
        found["Tags"] = tags_of(plane, scope, model.model_arn)
        return found

    def list(self, plane: ControlPlane, scope: Scope) -> list[dict[str, Any]]:
        listed = _everything(lambda query: models.list_models(plane, scope, query))
        return [self._properties(plane, scope, model) for model in listed]

    def create(self, plane: ControlPlane, scope: Scope, model: dict[str, Any]) -> str:
        body = {"ModelName": generated_name("Model"), **model}
        try:
            created = models.create_model(
                plane, scope, models.CreateModelInput.model_validate(body)
            )
        except DomainError as exc:
            raise failure_from(exc, self.type_name, body["ModelName"]) from exc
        return created.model_arn

    def _delete(self, plane: ControlPlane, scope: Scope, name: str) -> None:
        models.delete_model(plane, scope, name)


class EndpointConfigType(ImmediateType):
    type_name = "AWS::SageMaker::EndpointConfig"
    name_property = "EndpointConfigName"
    resource = EndpointConfig

    def _properties(
        self, plane: ControlPlane, scope: Scope, config: EndpointConfig
    ) -> dict[str, Any]:
        found = properties(config, self._allowed)
        found["Id"] = config.endpoint_config_arn
        found["Tags"] = tags_of(plane, scope, config.endpoint_config_arn)
        return found

    def list(self, plane: ControlPlane, scope: Scope) -> list[dict[str, Any]]:
        listed = _everything(
            lambda query: endpoint_configs.list_endpoint_configs(plane, scope, query)
        )
        return [self._properties(plane, scope, config) for config in listed]

    def create(self, plane: ControlPlane, scope: Scope, model: dict[str, Any]) -> str:
        body = {"EndpointConfigName": generated_name("EndpointConfig"), **model}
        body.pop("Id", None)
        try:
            request = endpoint_configs.CreateEndpointConfigInput.model_validate(body)
            created = endpoint_configs.create_endpoint_config(plane, scope, request)
        except DomainError as exc:
            raise failure_from(exc, self.type_name, body["EndpointConfigName"]) from exc
        return created.endpoint_config_arn

    def _delete(self, plane: ControlPlane, scope: Scope, name: str) -> None:
        endpoint_configs.delete_endpoint_config(plane, scope, name)


class EndpointType:
    type_name = "AWS::SageMaker::Endpoint"
    name_property = "EndpointName"

    def read(self, plane: ControlPlane, scope: Scope, identifier: str) -> dict[str, Any] | None:
        endpoint = _find(plane, scope, Endpoint, identifier)
        return None if endpoint is None else self._properties(plane, scope, endpoint)

    def _properties(self, plane: ControlPlane, scope: Scope, endpoint: Endpoint) -> dict[str, Any]:
        return {
            "EndpointArn": endpoint.endpoint_arn,
            "EndpointName": endpoint.endpoint_name,
            "EndpointConfigName": endpoint.target_config_name(),
            "Tags": tags_of(plane, scope, endpoint.endpoint_arn),
        }

    def list(self, plane: ControlPlane, scope: Scope) -> list[dict[str, Any]]:
        listed = _everything(lambda query: endpoints.list_endpoints(plane, scope, query))
        return [self._properties(plane, scope, endpoint) for endpoint in listed]

    def create(self, plane: ControlPlane, scope: Scope, model: dict[str, Any]) -> str:
        body = {"EndpointName": generated_name("Endpoint"), **model}
        try:
            request = endpoints.CreateEndpointInput.model_validate(body)
            return endpoints.create_endpoint(plane, scope, request).endpoint_arn
        except DomainError as exc:
            raise failure_from(exc, self.type_name, body["EndpointName"]) from exc

    def update(self, plane: ControlPlane, scope: Scope, identifier: str,
               current: dict[str, Any], desired: dict[str, Any]) -> None:  # fmt: skip
        try:
            if desired.get("EndpointConfigName") != current.get("EndpointConfigName"):
                endpoints.update_endpoint(
                    plane, scope, name_of(identifier), desired["EndpointConfigName"]
                )
        except DomainError as exc:
            raise failure_from(exc, self.type_name, identifier) from exc
        update_tags(plane, scope, identifier, current.get("Tags"), desired.get("Tags"))

    def delete(self, plane: ControlPlane, scope: Scope, identifier: str) -> None:
        try:
            endpoints.delete_endpoint(plane, scope, name_of(identifier))
        except DomainError as exc:
            raise failure_from(exc, self.type_name, identifier) from exc

    def settled(self, plane: ControlPlane, scope: Scope, identifier: str,
                operation: str) -> Settled:  # fmt: skip
        endpoint: Endpoint | None = _find(plane, scope, Endpoint, identifier)
        if operation == "DELETE":
            return DONE if endpoint is None else WAIT
        if endpoint is None:
            raise not_found(self.type_name, identifier)
        status = endpoint.endpoint_status
        if status == EndpointStatus.IN_SERVICE and endpoint.failure_reason is None:
            return DONE
        if status in (EndpointStatus.IN_SERVICE, EndpointStatus.FAILED):
            raise HandlerFailure(
                "NotStabilized",
                f"Resource of type '{self.type_name}' with identifier '{identifier}' did not "
                f"stabilize: {endpoint.failure_reason}",
            )
        return WAIT
