"""The worker runtime: makes endpoints serve their configs with supervised worker pools.

A deploy is blue/green: pools for new or changed variants start beside the old ones; only
when every new worker answers /ping does the routing snapshot switch, after which old pools
drain their in-flight requests and stop. A model that cannot load fails the rollout with the
model's own error and leaves the endpoint on what it served before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from shadowserve.dataplane.routing import EndpointRoute, RoutingTable, ShadowRoute, VariantRoute
from shadowserve.domain.arns import Scope, endpoint_log_group
from shadowserve.domain.resources import EndpointConfig, Model, ProductionVariant
from shadowserve.logs.store import LogStore
from shadowserve.services.runtime import Deployment, DeployResult, DeployState, Placement
from shadowserve.workers.artifacts import ArtifactError
from shadowserve.workers.instance import HealthChecks, Instance, placement
from shadowserve.workers.launchers import InstancePlan, Launcher
from shadowserve.workers.pool import VariantPool
from shadowserve.workers.process import Worker

log = logging.getLogger(__name__)

Key = tuple[Scope, str]
FAILED_PLAN_RETRY_AFTER = 30.0
GIVEN_UP = ("shadowserve: the deployment was given up while this instance was prepared "
            "(the endpoint was deleted or changed); it is stopped")  # fmt: skip


@dataclass
class Rollout:
    plan: tuple[str, ...]  # the identities of the pools the endpoint should end up with
    pools: dict[str, VariantPool]  # variant name → pool (reused or new)
    new: list[VariantPool]
    started: float = field(default_factory=time.monotonic)
    preparing: bool = True
    error: str | None = None
    # Set (under the runtime's lock) when the rollout is given up: "stop" (deleted,
    # replaced, failed) or "detach" (this server lets go). Given up while preparing, its
    # preparer undoes what it made when it is done (workers/runtime.py, _abandon).
    abandoned: str | None = None


@dataclass
class EndpointWorkers:
    active: dict[str, VariantPool] = field(default_factory=dict)
    rollout: Rollout | None = None
    # The plan that last failed, for which request (the endpoint's LastModifiedTime), when,
    # and why: the same request is not retried at every reconciler pass; a new one is.
    failed_plan: tuple[tuple[str, ...], object, float, str] | None = None


class WorkerRuntime:
    def __init__(
        self,
        routing: RoutingTable,
        launcher: Launcher,
        logs: LogStore,
        start_timeout: float = 120.0,
        drain_timeout: float = 75.0,
    ) -> None:
        self.routing = routing
        self._launcher = launcher
        self._logs = logs
        self._start_timeout = start_timeout
        self._drain_timeout = drain_timeout
        self._endpoints: dict[Key, EndpointWorkers] = {}
        # Deleted endpoints (by creation time): a reconciler pass that read one before its
        # deletion must not bring it back; a new endpoint of the same name is another.
        self._withdrawn: dict[Key, datetime] = {}
        self._lock = threading.RLock()

    # EndpointRuntime

    def deploy(self, deployment: Deployment) -> DeployResult:
        key = (deployment.scope, deployment.endpoint.endpoint_name.lower())
        variants = _variants(deployment.config)
        with self._lock:
            if self._withdrawn.get(key) == deployment.endpoint.creation_time:
                return DeployResult(DeployState.PENDING)
            self._withdrawn.pop(key, None)
            state = self._endpoints.setdefault(key, EndpointWorkers())
            plan_or_missing = _plan(deployment, variants, state.active)
            if isinstance(plan_or_missing, str):
                return DeployResult(DeployState.FAILED, f"Model {plan_or_missing} does not exist.")
            plan = plan_or_missing
            if tuple(p.identity for p in state.active.values()) == plan and state.rollout is None:
                self._publish(deployment, state.active)
                return DeployResult(DeployState.READY)
            return self._advance_rollout(deployment, state, plan)

    def withdraw(self, scope: Scope, endpoint_name: str, created: datetime) -> None:
        with self._lock:
            self._withdrawn[(scope, endpoint_name.lower())] = created
            self.routing.publish(scope, endpoint_name, None)

    def undeploy(self, scope: Scope, endpoint_name: str, created: datetime) -> bool:
        key = (scope, endpoint_name.lower())
        with self._lock:
            state = self._endpoints.pop(key, None)
            self.routing.publish(scope, endpoint_name, None)
            if state is not None and state.rollout is not None:
                self._abandon(state.rollout, "stop")
        # Then whatever else was made for it: a cluster's instances that a previous leader
        # left running and this server never adopted (deleted before it got to them).
        owner = endpoint_owner(scope, endpoint_name, created)
        active = list(state.active.values()) if state is not None else []
        self._drain(active, then=lambda: self._launcher.withdrawn(owner))
        return True

    # Supervision

    def supervise(self, checks: HealthChecks) -> None:
        """One supervision pass: poll every worker, restart dead ones, publish health."""
        with self._lock:
            pools = [pool for state in self._endpoints.values() for pool in _pools_of(state)]
        for pool in pools:
            for worker in pool.workers:
                worker.poll(checks)
            pool.refresh()

    def shutdown(self) -> None:
        """Let go of every instance (this server stops, or another gateway took the lead):
        local workers stop; a cluster's are left for the next leader to adopt."""
        with self._lock:
            states = list(self._endpoints.values())
            self._endpoints.clear()
            for state in states:
                if state.rollout is not None:
                    self._abandon(state.rollout, "detach")
        for state in states:
            self._let_go(list(state.active.values()), "detach")

    def collect(self) -> None:
        """Let the launcher free what no pool of this runtime holds."""
        with self._lock:
            identities = {pool.identity for state in self._endpoints.values()
                          for pool in _pools_of(state)}  # fmt: skip
        self._launcher.collect(identities)

    def instances(self) -> list[tuple[Key, VariantPool]]:
        """Every endpoint's active pools (for /metrics)."""
        with self._lock:
            return [(key, pool) for key, state in self._endpoints.items()
                    for pool in state.active.values()]  # fmt: skip

    # InstancePlacements

    def placements(self, scope: Scope, endpoint_name: str) -> dict[str, list[Placement]] | None:
        with self._lock:
            state = self._endpoints.get((scope, endpoint_name.lower()))
            if state is None or not state.active:
                return None
            pools = dict(state.active)
        return {name: [placement(worker) for worker in pool.workers]
                for name, pool in pools.items()}  # fmt: skip

    def pools(self, scope: Scope, endpoint_name: str) -> dict[str, VariantPool]:
        """The active pools of an endpoint (for tests and fault injection)."""
        with self._lock:
            state = self._endpoints.get((scope, endpoint_name.lower()))
            return dict(state.active) if state else {}

    # Rollouts

    def _advance_rollout(
        self, deployment: Deployment, state: EndpointWorkers, plan: tuple[str, ...]
    ) -> DeployResult:
        if state.failed_plan:
            failed, requested_at, failed_at, reason = state.failed_plan
            same_request = requested_at == deployment.endpoint.last_modified_time
            if (
                failed == plan
                and same_request
                and (time.monotonic() - failed_at < FAILED_PLAN_RETRY_AFTER)
            ):
                return DeployResult(DeployState.FAILED, reason)
        rollout = state.rollout
        if rollout is None or rollout.plan != plan:
            if rollout is not None:
                self._abandon(rollout, "stop")
            state.rollout = self._begin(deployment, state, plan)
            return DeployResult(DeployState.PENDING)
        return self._check(deployment, state, rollout)

    def _begin(
        self, deployment: Deployment, state: EndpointWorkers, plan: tuple[str, ...]
    ) -> Rollout:
        reusable = {pool.identity: pool for pool in state.active.values()}
        pools: dict[str, VariantPool] = {}
        new: list[VariantPool] = []
        for variant, identity in zip(_variants(deployment.config), plan, strict=True):
            pool = reusable.get(identity)
            if pool is None:
                pool = VariantPool(identity, variant.variant_name, [], variant.model_name)
                new.append(pool)
            pools[variant.variant_name] = pool
        rollout = Rollout(plan, pools, new)
        prepare = self._preparer(deployment, rollout)
        threading.Thread(target=prepare, name="rollout-prepare", daemon=True).start()
        return rollout

    def _preparer(self, deployment: Deployment, rollout: Rollout) -> Callable[[], None]:
        def prepare() -> None:
            try:
                for pool in rollout.new:
                    if rollout.abandoned:
                        break
                    variant = deployment.config.variant(pool.variant_name)
                    if variant is None or variant.model_name is None:
                        raise ArtifactError("the variant has no model")
                    model = deployment.models[variant.model_name]
                    pool.workers = self._workers_for(deployment, variant, model, pool)
                    pool.start()
            except ArtifactError as exc:
                rollout.error = f"Variant {pool.variant_name}: {exc}"
            except Exception as exc:
                log.exception("preparing workers failed")
                rollout.error = f"Variant {pool.variant_name}: {type(exc).__name__}: {exc}"
            finally:
                with self._lock:
                    rollout.preparing = False
                    abandoned = rollout.abandoned
                if abandoned is not None:  # given up meanwhile: nothing else will stop these
                    self._let_go(rollout.new, abandoned, note=GIVEN_UP)

        return prepare

    def _abandon(self, rollout: Rollout, how: str) -> None:
        """Give up a rollout (the caller holds the lock). Its new pools are let go of now,
        or, while it is still preparing, by its preparer once it is done: it may be making
        instances (installing, placing) that a drain now would miss."""
        rollout.abandoned = how
        if not rollout.preparing:
            self._let_go(rollout.new, how)

    def _let_go(self, pools: list[VariantPool], how: str, note: str | None = None) -> None:
        """Stop pools once their requests are done ("stop"), or detach them at once."""
        if note is not None:
            for pool in pools:
                for writer in pool.log_streams:
                    writer.write(note)
        if how == "stop":
            self._drain(pools)
            return
        for pool in pools:
            pool.detach()
            self._release_logs(pool)

    def _workers_for(
        self, deployment: Deployment, variant: ProductionVariant, model: Model, pool: VariantPool
    ) -> list[Instance]:
        container = model.serving_container()
        image = container.image if container else None
        name = f"{deployment.endpoint.endpoint_name}/{variant.variant_name}"
        group = endpoint_log_group(deployment.endpoint.endpoint_name)
        self._logs.create_group(deployment.scope, group)  # readable before any worker writes
        if image and image.startswith(("http://", "https://")):
            # A running container that speaks SageMaker's contract: route to it as it is.
            return [Worker(name=f"{name}/external", spec=None, url=image.rstrip("/"))]
        # One stream per instance, named as SageMaker names them: variant/instance id.
        writers = [
            self._logs.writer(
                deployment.scope, group, f"{variant.variant_name}/i-{pool.identity[:12]}{index:05d}"
            )
            for index in range(variant.instance_count())
        ]
        pool.log_streams = writers
        shadow = _is_shadow(deployment.config, variant)
        owner = endpoint_owner(deployment.scope, deployment.endpoint.endpoint_name,
                               deployment.endpoint.creation_time)  # fmt: skip
        plan = InstancePlan(deployment.scope, name, variant, model, pool.identity, owner, writers,
                            shadow)  # fmt: skip
        return self._launcher.instances(plan)

    def _check(
        self, deployment: Deployment, state: EndpointWorkers, rollout: Rollout
    ) -> DeployResult:
        reason = rollout.error or next(
            (f"Variant {p.variant_name}: {p.failure()}" for p in rollout.new if p.failure()), None
        )
        if reason is None and time.monotonic() - rollout.started > self._start_timeout:
            reason = f"The model servers did not become healthy within {self._start_timeout:.0f}s."
        if reason is not None:
            self._abandon(rollout, "stop")
            state.rollout = None
            requested_at = deployment.endpoint.last_modified_time
            state.failed_plan = (rollout.plan, requested_at, time.monotonic(), reason)
            return DeployResult(DeployState.FAILED, reason)
        if rollout.preparing or not all(p.all_healthy() for p in rollout.new):
            return DeployResult(DeployState.PENDING)
        for pool in rollout.new:
            pool.refresh()
        old = [p for p in state.active.values() if p not in rollout.pools.values()]
        state.active = rollout.pools
        state.rollout = None
        state.failed_plan = None
        self._publish(deployment, state.active)
        self._drain(old)
        return DeployResult(DeployState.READY)

    def _publish(self, deployment: Deployment, pools: dict[str, VariantPool]) -> None:
        config = deployment.config
        production = tuple(
            VariantRoute(v.variant_name, v.weight(), pools[v.variant_name])
            for v in config.production_variants
        )
        shadow = None
        for variant in config.shadow_production_variants or []:
            route = VariantRoute(
                variant.variant_name, variant.weight(), pools[variant.variant_name]
            )
            shadow = ShadowRoute(
                route, *_sampling(deployment, variant, production), deployment.shadow_redaction
            )
        endpoint = deployment.endpoint.endpoint_name
        route_now = EndpointRoute(endpoint, production, shadow, config.data_capture_config)
        if self.routing.get(deployment.scope, endpoint) != route_now:
            self.routing.publish(deployment.scope, endpoint, route_now)

    def _drain(self, pools: list[VariantPool], then: Callable[[], None] | None = None) -> None:
        """Stop pools once their in-flight requests are done, then run ``then`` (in the
        background)."""
        if not pools and then is None:
            return

        def drain() -> None:
            deadline = time.monotonic() + self._drain_timeout
            while any(p.in_flight for p in pools) and time.monotonic() < deadline:
                time.sleep(0.05)
            for pool in pools:
                self._stop(pool)
            if then is not None:
                then()

        threading.Thread(target=drain, name="pool-drain", daemon=True).start()

    def _stop(self, pool: VariantPool) -> None:
        pool.stop()
        self._launcher.released(pool.identity)
        self._release_logs(pool)

    def _release_logs(self, pool: VariantPool) -> None:
        for writer in pool.log_streams:
            self._logs.release(writer)


def _variants(config: EndpointConfig) -> list[ProductionVariant]:
    return config.production_variants + (config.shadow_production_variants or [])


def _is_shadow(config: EndpointConfig, variant: ProductionVariant) -> bool:
    return variant in (config.shadow_production_variants or [])


def _pools_of(state: EndpointWorkers) -> list[VariantPool]:
    rollout_pools = state.rollout.new if state.rollout else []
    return list(state.active.values()) + rollout_pools


def _plan(
    deployment: Deployment, variants: list[ProductionVariant], active: dict[str, VariantPool]
) -> tuple[str, ...] | str:
    """The identities of the pools to serve ``variants``, or the name of a model that is
    missing. A model deleted since its pool started keeps that pool (SageMaker: deleting a
    model never touches what an endpoint runs), so an experiment can still be stopped."""
    plan = []
    for variant in variants:
        model = deployment.models.get(variant.model_name or "")
        if model is not None:
            plan.append(_identity(deployment, variant, model))
            continue
        running = active.get(variant.variant_name)
        if running is None or running.model_name != variant.model_name:
            return variant.model_name or "(none)"
        plan.append(running.identity)
    return tuple(plan)


def endpoint_owner(scope: Scope, endpoint_name: str, created: datetime) -> str:
    """A short name for one endpoint (one creation of it). A cluster runtime's instances
    carry it, so deleting the endpoint frees all of them, adopted or not."""
    described = [scope.account, scope.region, endpoint_name.lower(), created.isoformat()]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:12]


def _identity(deployment: Deployment, variant: ProductionVariant, model: Model) -> str:
    """Pools are reused only when variant, model definition and size are all unchanged
    (the instance type too: a cluster runtime reserves its resources). The endpoint (and
    its creation) is part of it: a cluster runtime names its instances by identity, and
    two endpoints running the same model must not share them."""
    endpoint = deployment.endpoint
    owner = [deployment.scope.account, deployment.scope.region, endpoint.endpoint_name.lower()]
    described = {
        "endpoint": [*owner, endpoint.creation_time.isoformat()],
        # A pool never changes role: a shadow's runs at a lower priority than production's.
        "shadow": _is_shadow(deployment.config, variant),
        "variant": variant.variant_name,
        "count": variant.instance_count(),
        "instance_type": variant.instance_type,
        "serverless": variant.serverless_config,
        "model": model.model_dump(mode="json", exclude={"creation_time", "model_arn"}),
        "created": model.creation_time.isoformat(),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _sampling(
    deployment: Deployment, shadow: ProductionVariant, production: tuple[VariantRoute, ...]
) -> tuple[float, str | None]:
    """An experiment's SamplingPercentage; for a config-level shadow, its weight relative to
    the production variants' (equal weights: every request is copied)."""
    experiment = deployment.experiment
    if experiment is not None and experiment.shadow_variant().variant_name == shadow.variant_name:
        return float(experiment.sampling_percentage()), experiment.name
    total = sum(v.weight for v in production) or 1.0
    return min(100.0, 100.0 * shadow.weight() / total), None
