"""The Ray launcher: a variant's instances as actors on a Ray cluster (``--runtime ray``).

Ray places and supervises; it never carries a request. Each instance is a detached, named
actor (workers/ray_node.py) in this server's namespace, reserving the instance type's CPUs,
memory and GPUs (workers/instance_types.py); a variant of several instances asks for a
placement group with the SPREAD strategy, so its instances land on different nodes where
the cluster has them. The actor unpacks the model on its node from an object this gateway
put (so nodes need no access to the gateway's object store), starts the built-in worker on
the node's address and reports its URL; the gateway routes to that URL and checks it with
``/ping`` itself, as it does a local worker.

An actor's name is its pool's identity, its index and its endpoint's owner name, so a
gateway that restarts, or the next leader, finds the actors already running
(``get_if_exists``) instead of starting more; deleting the endpoint removes every actor of
its owner, adopted or not (``withdrawn``); actors no pool claims for a while are removed
(``collect``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import threading
import time
from typing import Any

import ray
from ray.util.placement_group import (
    PlacementGroup,
    get_placement_group,
    placement_group,
    remove_placement_group,
)
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from shadowserve.workers.artifacts import ArtifactCache, ArtifactError
from shadowserve.workers.instance import HealthChecks, Instance, WorkerState, after_ping
from shadowserve.workers.instance_types import (
    InstanceResources,
    InstanceTypeError,
    resources_for,
)
from shadowserve.workers.launchers import InstancePlan, code_location
from shadowserve.workers.ray_node import Archives, NodeInstance, node_spec

log = logging.getLogger(__name__)

PREFIX = "shadowserve:"  # of every actor and placement group this launcher names
COLLECT_EVERY = 30.0  # seconds between looks for unclaimed actors (at most)
STOP_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0


class PlacementError(ArtifactError):
    """Ray cannot place an instance; the message is the FailureReason."""


def _bundle(resources: InstanceResources) -> dict[str, float]:
    bundle = {"CPU": resources.cpus, "memory": float(resources.memory_bytes)}
    if resources.gpus:
        bundle["GPU"] = resources.gpus
    return bundle


def fits_somewhere(bundle: dict[str, float], nodes: list[dict[str, Any]]) -> bool:
    """Whether any live node has, in all, the resources of one instance."""
    return any(
        node.get("Alive") and all(node["Resources"].get(k, 0.0) >= v for k, v in bundle.items())
        for node in nodes
    )


def _largest(nodes: list[dict[str, Any]]) -> str:
    alive = [node["Resources"] for node in nodes if node.get("Alive")]
    if not alive:
        return "the cluster has no live node"
    cpus = max(r.get("CPU", 0.0) for r in alive)
    gib = max(r.get("memory", 0.0) for r in alive) / 1024**3
    gpus = max(r.get("GPU", 0.0) for r in alive)
    return f"its largest node has {cpus:g} CPUs, {gib:.3g} GiB memory, {gpus:g} GPUs"


def _reachable(address: str) -> None:
    """Fail at once, with the reason, when a host:port address does not answer (ray.init
    would retry for minutes); ``ray://`` and ``auto`` addresses are left to Ray."""
    host, _, port = address.rpartition(":")
    if "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise ConnectionError(exc.strerror or str(exc)) from exc


def _digest(data: bytes | None) -> str:
    return hashlib.sha256(data or b"").hexdigest()[:16]


class RayLauncher:
    def __init__(
        self,
        address: str,
        namespace: str,
        artifacts: ArtifactCache,
        node_dir: str,
        max_model_bytes: int,
        unclaimed_grace: float = 120.0,
    ) -> None:
        _reachable(address)
        # The gateway is a Ray driver only to place and watch actors: their logs come
        # through the actors (into the endpoint's log streams), not to this terminal.
        ray.init(address=address, namespace=namespace, log_to_driver=False,
                 logging_level=logging.WARNING, configure_logging=False)  # fmt: skip
        # Ray warns at every placement that a restartable detached actor in a placement
        # group dies with its group: that is what this launcher wants (groups go with pools).
        logging.getLogger("ray.actor").setLevel(logging.ERROR)
        self._artifacts = artifacts
        self._node_dir = node_dir
        self._max_model_bytes = max_model_bytes
        self._actor_class = ray.remote(NodeInstance)
        self._unclaimed_grace = unclaimed_grace
        self._collect_every = min(COLLECT_EVERY, unclaimed_grace / 2)
        self._unclaimed: dict[str, float] = {}  # actor name → when first seen unclaimed
        self._last_collect = 0.0

    def instances(self, plan: InstancePlan) -> list[Instance]:
        environment = plan.environment()
        try:
            resources = resources_for(plan.variant, environment)
        except InstanceTypeError as exc:
            raise ArtifactError(str(exc)) from exc
        bundle = _bundle(resources)
        nodes = ray.nodes()
        if not fits_somewhere(bundle, nodes):
            raise PlacementError(
                f"Ray cannot place an instance of {plan.variant.instance_type or 'the variant'}"
                f" ({resources.describe()}): {_largest(nodes)}. Add such a node, or set "
                "SHADOWSERVE_INSTANCE_RESOURCES on the model."
            )
        plan.log(f"shadowserve: placing {len(plan.writers)} instance(s) on Ray, each "
                 f"{resources.describe()}")  # fmt: skip
        archives = ray.put(self._archives(plan, environment))
        group = self._placement_group(plan, bundle) if len(plan.writers) > 1 else None
        instances: list[Instance] = []
        for index, writer in enumerate(plan.writers):
            options: dict[str, Any] = {
                "name": f"{PREFIX}{plan.identity[:24]}:{index}:{plan.owner}",
                "get_if_exists": True,
                "lifetime": "detached",
                "max_restarts": -1,  # a dead actor (its process or node) is placed again
                "max_concurrency": 4,  # status() answers while prepare() works
                "num_cpus": resources.cpus,
                "num_gpus": resources.gpus,
                "memory": resources.memory_bytes,
            }
            if group is not None:
                options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
                    group, placement_group_bundle_index=index
                )
            name = f"{plan.name}/{index}"
            spec = node_spec(name, environment, self._node_dir, self._max_model_bytes)
            actor_class = self._actor_class.options(**options)
            instances.append(RayInstance(name, options["name"], actor_class, spec, archives,
                                         writer))  # fmt: skip
        return instances

    def released(self, identity: str) -> None:
        with contextlib.suppress(ValueError):  # one instance: no group
            remove_placement_group(get_placement_group(f"{PREFIX}{identity[:24]}"))

    def withdrawn(self, owner: str) -> None:
        names = [n for n in _named_actors() if n.endswith(f":{owner}")]
        if not names:
            return
        log.info("removing the %d Ray actor(s) of a deleted endpoint", len(names))
        stops = [threading.Thread(target=_kill_named, args=(name,), name="ray-actor-stop",
                                  daemon=True) for name in names]  # fmt: skip
        for stop in stops:
            stop.start()
        for stop in stops:
            stop.join()
        for identity in {_pool_of(name) for name in names}:
            self.released(identity)

    def collect(self, identities: set[str]) -> None:
        """Remove actors and placement groups no pool holds (a deleted endpoint's, while no
        gateway led) once they have gone unclaimed for the grace period."""
        now = time.monotonic()
        if now - self._last_collect < self._collect_every:
            return
        self._last_collect = now
        claimed = {identity[:24] for identity in identities}
        for name in _named_actors():
            identity = _pool_of(name)
            if identity in claimed:
                self._unclaimed.pop(name, None)
                continue
            first_seen = self._unclaimed.setdefault(name, now)
            if now - first_seen >= self._unclaimed_grace:
                log.info("removing the unclaimed Ray actor %s", name)
                _kill_named(name)
                self._unclaimed.pop(name, None)
                self.released(identity)

    def _archives(self, plan: InstancePlan, environment: dict[str, str]) -> Archives:
        url = plan.model_data_url()
        model = self._artifacts.archive_bytes(url) if url else None
        where = code_location(environment.get("SAGEMAKER_SUBMIT_DIRECTORY"))
        if isinstance(where, str):
            code = self._artifacts.archive_bytes(where)
            return Archives(model, _digest(model), code, _digest(code))
        return Archives(model, _digest(model), code_subdir=str(where))

    def _placement_group(self, plan: InstancePlan, bundle: dict[str, float]) -> PlacementGroup:
        name = f"{PREFIX}{plan.identity[:24]}"
        try:
            return get_placement_group(name)
        except ValueError:
            bundles = [dict(bundle) for _ in plan.writers]
            return placement_group(bundles, strategy="SPREAD", name=name, lifetime="detached")


def _named_actors() -> list[str]:
    """The names of this namespace's shadowserve actors."""
    return [name for name in ray.util.list_named_actors() if name.startswith(PREFIX)]


def _pool_of(name: str) -> str:
    """The (shortened) pool identity an actor's name starts with."""
    return name[len(PREFIX) :].split(":", 1)[0]


def _kill_named(name: str) -> None:
    with contextlib.suppress(ValueError):  # gone meanwhile
        _kill(ray.get_actor(name))


def _kill(actor: Any) -> None:
    with contextlib.suppress(Exception):  # dead, or not answering: killed all the same
        ray.get(actor.stop.remote(), timeout=STOP_TIMEOUT)
    with contextlib.suppress(Exception):  # already gone (its placement group removed)
        ray.kill(actor, no_restart=True)


class RayInstance:
    """The gateway's view of one instance's actor, refreshed without blocking: each poll
    reads the status answer that arrived since the last one and asks for the next."""

    def __init__(
        self,
        name: str,
        actor_name: str,
        actor_class: Any,
        spec: dict[str, Any],
        archives: Any,
        writer: Any,
    ) -> None:
        self.name = name
        self._actor_name = actor_name
        self.url: str | None = None
        self.state = WorkerState.STARTING
        self.failure: str | None = None
        self.restarts = 0
        self._actor_class = actor_class
        self._spec = spec
        self._archives = archives  # an object ref: Ray keeps it while this gateway lives
        self._writer = writer
        self._actor: Any = None
        self._pending: Any = None  # the status() call in flight
        self._cursor = 0
        self._pid: int | None = None
        self._node = "pending"

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def node(self) -> str:
        return self._node

    def start(self) -> None:
        self._actor = self._actor_class.remote(self._spec)

    def poll(self, checks: HealthChecks) -> None:
        if self._actor is None or self.state == WorkerState.STOPPED:
            return
        if self._pending is None:
            self._pending = self._actor.status.remote(self._cursor)
        ready, _ = ray.wait([self._pending], timeout=0)
        if not ready:
            return  # not placed yet, or busy: the answer comes at a later poll
        pending, self._pending = self._pending, None
        try:
            status = ray.get(pending)
        except Exception as exc:  # the actor died (Ray restarts it) or cannot be reached
            self._lost(f"the instance's actor is not answering: {type(exc).__name__}")
            return
        self._take(status, checks)

    def _take(self, status: dict[str, Any], checks: HealthChecks) -> None:
        for stamp, text in status["lines"]:
            self._writer.write(text, stamp)
        self._cursor = status["cursor"]
        self._node = status["node_ip"]
        self._pid = status["pid"]
        self.restarts = status["restarts"]
        if status["error"] is not None:
            self.state, self.failure = WorkerState.FAILED, status["error"]
            return
        if not status["prepared"]:
            if not status["preparing"]:  # new, or restarted by Ray: it needs the model again
                self._actor.prepare.remote(self._archives)
            self.url = None
            return
        if status["state"] == WorkerState.FAILED.value:
            self.state, self.failure = WorkerState.FAILED, status["failure"]
            return
        self.url = status["url"]
        healthy = self.url is not None and checks.answers(self.url)
        self.state = after_ping(self.state, healthy)
        self.failure = None if healthy else status["failure"]

    def _lost(self, reason: str) -> None:
        self.url = None
        if self.state != WorkerState.STARTING:
            self.state, self.failure = WorkerState.UNHEALTHY, reason

    def tend(self, now: float) -> None:
        """Nothing: the actor restarts its worker, and Ray restarts the actor."""

    def stop(self) -> None:
        self.state = WorkerState.STOPPED
        self.url = None
        actor = self._actor
        if actor is None:  # never started here, but maybe running (made by a past leader)
            with contextlib.suppress(ValueError):
                actor = ray.get_actor(self._actor_name)
        if actor is not None:
            log.info("removing the Ray actor %s (%s)", self._actor_name, self.name)
            # In the background: a pool's instances go at once, not one stop after another.
            threading.Thread(target=_kill, args=(actor,), name="ray-actor-stop",
                             daemon=True).start()  # fmt: skip

    def detach(self) -> None:
        self.state = WorkerState.STOPPED  # left running for the next leader to adopt
        self.url = None

    def kill(self) -> None:
        if self._actor is not None:
            ray.get(self._actor.kill_worker.remote(), timeout=STOP_TIMEOUT)
