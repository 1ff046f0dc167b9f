"""The boundary between the control plane and whatever runs the models.

The reconciler asks an EndpointRuntime to make an endpoint serve a config; the runtime
answers whether that is done, still under way, or failed. The server uses the worker
runtime (workers/runtime.py); RecordingRuntime stands in for it in control-plane unit tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from shadowserve.domain.arns import Scope
from shadowserve.domain.experiment import InferenceExperiment
from shadowserve.domain.resources import Endpoint, EndpointConfig, Model


class DeployState(StrEnum):
    READY = "ready"
    PENDING = "pending"
    FAILED = "failed"


@dataclass(frozen=True)
class DeployResult:
    state: DeployState
    reason: str | None = None


@dataclass(frozen=True)
class Deployment:
    """Everything a runtime needs to serve one endpoint."""

    scope: Scope
    endpoint: Endpoint
    config: EndpointConfig
    models: dict[str, Model]
    experiment: InferenceExperiment | None
    # CustomAttributes keys the experiment keeps from its shadow (its redaction tag).
    shadow_redaction: frozenset[str] = frozenset()


class EndpointRuntime(Protocol):
    def deploy(self, deployment: Deployment) -> DeployResult:
        """Move the endpoint towards serving ``deployment``; safe to call again and again."""
        ...

    def undeploy(self, scope: Scope, endpoint_name: str, created: datetime) -> bool:
        """Stop serving the endpoint created at ``created``; True once nothing of it is
        left running."""
        ...

    def withdraw(self, scope: Scope, endpoint_name: str, created: datetime) -> None:
        """Stop answering the endpoint created at ``created`` now (DeleteEndpoint), and
        never deploy it again; undeploy() frees its workers later."""
        ...


class RecordingRuntime:
    """A fake for unit tests: records what should be deployed and reports it ready at once."""

    def __init__(self) -> None:
        self.deployed: dict[tuple[Scope, str], Deployment] = {}
        self.withdrawn: dict[tuple[Scope, str], datetime] = {}

    def deploy(self, deployment: Deployment) -> DeployResult:
        key = (deployment.scope, deployment.endpoint.endpoint_name.lower())
        if self.withdrawn.get(key) == deployment.endpoint.creation_time:
            return DeployResult(DeployState.PENDING)
        self.deployed[key] = deployment
        return DeployResult(DeployState.READY)

    def undeploy(self, scope: Scope, endpoint_name: str, created: datetime) -> bool:
        key = (scope, endpoint_name.lower())
        deployed = self.deployed.get(key)
        if deployed is not None and deployed.endpoint.creation_time == created:
            del self.deployed[key]
        return True

    def withdraw(self, scope: Scope, endpoint_name: str, created: datetime) -> None:
        self.withdrawn[(scope, endpoint_name.lower())] = created
        self.deployed.pop((scope, endpoint_name.lower()), None)


@dataclass(frozen=True)
class Placement:
    """One running instance of a variant: its name, where it runs, whether it answers."""

    instance: str
    node: str
    healthy: bool


class InstancePlacements(Protocol):
    def placements(self, scope: Scope, endpoint_name: str) -> dict[str, list[Placement]] | None:
        """Each variant's instances, live; None when this server does not run the endpoint
        (it does not lead, or the endpoint is not deployed yet)."""
        ...


@dataclass(frozen=True)
class DirectAnswer:
    """A variant's answer to a direct call (no InvokeEndpoint: nothing captured, counted or
    mirrored). ``error`` says why there is no answer, if there is none."""

    status: int
    body: bytes
    content_type: str | None
    latency_us: int
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None and 200 <= self.status < 300


class VariantCalls(Protocol):
    def call_variant(
        self, scope: Scope, endpoint_name: str, variant_name: str, body: bytes,
        content_type: str, accept: str | None,
    ) -> DirectAnswer:  # fmt: skip
        """Send one request to one variant's workers and wait for the answer."""
        ...
