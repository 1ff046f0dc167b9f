"""The routing snapshot the hot path reads: which pools serve which endpoint.

It is replaced whole whenever a deployment changes (copy-on-write), so a request reads one
consistent picture without locks and never touches the database.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from shadowserve.dataplane.upstream import Upstream
from shadowserve.domain.arns import Scope
from shadowserve.domain.resources import DataCaptureConfig


@dataclass(frozen=True)
class VariantRoute:
    name: str
    weight: float
    pool: Upstream


@dataclass(frozen=True)
class ShadowRoute:
    variant: VariantRoute
    sampling_percentage: float
    experiment_name: str | None
    redacted_keys: frozenset[str] = frozenset()  # CustomAttributes keys the shadow never sees


@dataclass(frozen=True)
class EndpointRoute:
    endpoint_name: str
    production: tuple[VariantRoute, ...]
    shadow: ShadowRoute | None
    capture: DataCaptureConfig | None = None

    def variant(self, name: str) -> VariantRoute | None:
        for variant in self.production:
            if variant.name == name:
                return variant
        return None

    def choose(self) -> VariantRoute:
        """A production variant picked at random in proportion to its weight."""
        if len(self.production) == 1:
            return self.production[0]
        weights = [max(v.weight, 0.0) for v in self.production]
        if sum(weights) <= 0:
            return random.choice(self.production)
        return random.choices(self.production, weights=weights)[0]


RouteKey = tuple[Scope, str]


class RoutingTable:
    def __init__(self) -> None:
        self._routes: dict[RouteKey, EndpointRoute] = {}
        self._write_lock = threading.Lock()

    def get(self, scope: Scope, endpoint_name: str) -> EndpointRoute | None:
        return self._routes.get((scope, endpoint_name.lower()))

    def items(self) -> list[tuple[RouteKey, EndpointRoute]]:
        """Every route, keyed by scope and lower-cased endpoint name (one snapshot)."""
        return list(self._routes.items())

    def routed(self) -> list[RouteKey]:
        return list(self._routes)

    def publish(self, scope: Scope, endpoint_name: str, route: EndpointRoute | None) -> None:
        with self._write_lock:
            routes = dict(self._routes)
            key = (scope, endpoint_name.lower())
            if route is None:
                routes.pop(key, None)
            else:
                routes[key] = route
            self._routes = routes  # one reference swap: readers see old or new, never half
