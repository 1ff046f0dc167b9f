"""What a replay sends to: a variant of a running endpoint, or a model deployed for the
replay alone — on workers of its own, in a scope no caller can reach, removed afterwards."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import InvalidInput
from shadowserve.domain.resources import (
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    Model,
    ProductionVariant,
)
from shadowserve.services.runtime import (
    Deployment,
    DeployState,
    DirectAnswer,
    EndpointRuntime,
    VariantCalls,
)

# Not an AWS account id, so no caller's scope is ever this one.
REPLAY_SCOPE = Scope("replay", "shadowserve-replay")
REPLAY_VARIANT = "candidate"
DEPLOY_TIMEOUT = 180.0


@dataclass
class Candidate:
    """Where requests go: ``scope``/``endpoint``/``variant`` of the calls port."""

    description: str
    scope: Scope
    endpoint: str
    variant: str
    calls: VariantCalls
    runtime: EndpointRuntime | None = None  # set when the replay deployed it
    model: Model | None = None
    created: datetime | None = None  # of the endpoint deployed for the replay

    def start(self) -> None:
        """Deploy the model (if the replay owns it) and wait until it serves."""
        if self.model is None or self.runtime is None:
            return
        deployment = _deployment(self.endpoint, self.model)
        self.created = deployment.endpoint.creation_time
        deadline = time.monotonic() + DEPLOY_TIMEOUT
        while True:
            result = self.runtime.deploy(deployment)
            if result.state == DeployState.READY:
                return
            if result.state == DeployState.FAILED:
                raise InvalidInput(f"Model {self.model.model_name} did not start: {result.reason}")
            if time.monotonic() > deadline:
                raise InvalidInput(f"Model {self.model.model_name} did not start in time.")
            time.sleep(0.2)

    def call(self, body: bytes, content_type: str, accept: str | None) -> DirectAnswer:
        return self.calls.call_variant(self.scope, self.endpoint, self.variant, body,
                                       content_type, accept)  # fmt: skip

    def stop(self) -> None:
        if self.runtime is not None and self.created is not None:
            self.runtime.undeploy(self.scope, self.endpoint, self.created)


def deployed_model(model: Model, runtime: EndpointRuntime, calls: VariantCalls) -> Candidate:
    endpoint = f"replay-{uuid.uuid4().hex[:12]}"
    return Candidate(f"model {model.model_name} (deployed for the replay)", REPLAY_SCOPE,
                     endpoint, REPLAY_VARIANT, calls, runtime, model)  # fmt: skip


def _deployment(endpoint_name: str, model: Model) -> Deployment:
    now = datetime.now(UTC)
    variant = ProductionVariant(variant_name=REPLAY_VARIANT, model_name=model.model_name,
                                initial_instance_count=1, instance_type="ml.m5.large",
                                initial_variant_weight=1.0)  # fmt: skip
    config = EndpointConfig(endpoint_config_name=endpoint_name,
                            endpoint_config_arn=f"arn:replay:{endpoint_name}",
                            creation_time=now, production_variants=[variant])  # fmt: skip
    endpoint = Endpoint(endpoint_name=endpoint_name, endpoint_arn=f"arn:replay:{endpoint_name}",
                        endpoint_config_name=endpoint_name,
                        endpoint_status=EndpointStatus.CREATING, creation_time=now,
                        last_modified_time=now)  # fmt: skip
    return Deployment(REPLAY_SCOPE, endpoint, config, {model.model_name: model}, None)
