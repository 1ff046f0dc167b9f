"""Typed access to stored resources: domain objects in, versioned documents underneath."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from shadowserve.domain.arns import ResourceKind, Scope
from shadowserve.domain.experiment import InferenceExperiment
from shadowserve.domain.resources import Endpoint, EndpointConfig, Model
from shadowserve.domain.shapes import Shape
from shadowserve.store.base import Document, Transaction

T = TypeVar("T", bound=Shape)

KINDS: dict[type[Shape], ResourceKind] = {
    Model: ResourceKind.MODEL,
    EndpointConfig: ResourceKind.ENDPOINT_CONFIG,
    Endpoint: ResourceKind.ENDPOINT,
    InferenceExperiment: ResourceKind.INFERENCE_EXPERIMENT,
}


def name_of(resource: Shape) -> str:
    if isinstance(resource, Model):
        return resource.model_name
    if isinstance(resource, EndpointConfig):
        return resource.endpoint_config_name
    if isinstance(resource, Endpoint):
        return resource.endpoint_name
    if isinstance(resource, InferenceExperiment):
        return resource.name
    raise TypeError(type(resource))


@dataclass
class Loaded(Generic[T]):
    """A resource together with the document it was read from (and so its version)."""

    value: T
    document: Document


class Repository:
    """Resources of one scope inside one transaction. Names are case-insensitive."""

    def __init__(self, tx: Transaction, scope: Scope) -> None:
        self.tx = tx
        self.scope = scope

    def find(self, cls: type[T], name: str) -> Loaded[T] | None:
        document = self.tx.get(KINDS[cls], self.scope, name.lower())
        if document is None:
            return None
        return Loaded(cls.model_validate(document.body), document)

    def all(self, cls: type[T]) -> list[Loaded[T]]:
        return [
            Loaded(cls.model_validate(doc.body), doc)
            for doc in self.tx.find_all(KINDS[cls], self.scope)
        ]

    def add(self, resource: Shape) -> None:
        self.tx.insert(
            Document(KINDS[type(resource)], self.scope, name_of(resource).lower(), _dump(resource))
        )

    def save(self, loaded: Loaded[T]) -> None:
        loaded.document.body = _dump(loaded.value)
        self.tx.update(loaded.document)

    def remove(self, loaded: Loaded[T]) -> None:
        self.tx.delete(loaded.document)


def all_scopes(tx: Transaction, cls: type[T]) -> list[tuple[Scope, Loaded[T]]]:
    """Every stored resource of a kind across accounts and regions: for the reconciler."""
    return [
        (doc.scope, Loaded(cls.model_validate(doc.body), doc)) for doc in tx.find_all(KINDS[cls])
    ]


def _dump(resource: Shape) -> dict[str, object]:
    return resource.model_dump(mode="json", exclude_none=True)
