"""The composition root: settings in, a running application out. Only here are concrete
adapters chosen and wired together."""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import partial

from prometheus_client import CollectorRegistry, Info
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp

from shadowserve.auth.access import Access, OpenAccess, SigV4Access
from shadowserve.auth.credentials import load_keys
from shadowserve.capture.writer import CaptureLimits, CaptureWriter
from shadowserve.cloudcontrol.worker import RequestWorker
from shadowserve.cluster.coordination import Coordination
from shadowserve.cluster.membership import Membership
from shadowserve.comparison.settings import CompareSettings
from shadowserve.config import Settings
from shadowserve.dataplane.admission import LoopLagAdmission
from shadowserve.dataplane.invoke import Invoker
from shadowserve.dataplane.noise_probes import NoiseProbes
from shadowserve.dataplane.routing import RoutingTable
from shadowserve.dataplane.shadow import ShadowDispatcher
from shadowserve.domain.arns import Scope
from shadowserve.domain.clock import Clock, SystemClock
from shadowserve.domain.resources import EndpointStatus
from shadowserve.events.invocations import EventBus
from shadowserve.events.log import EventLog
from shadowserve.http.api import ApiDependencies
from shadowserve.http.app import Mounted, build_http_app
from shadowserve.logs.store import LogStore
from shadowserve.metrics.aggregator import Aggregator, AggregatorSettings
from shadowserve.metrics.capture import CaptureCounters
from shadowserve.metrics.shadow import ShadowCounters
from shadowserve.metrics.variant import VariantMetrics
from shadowserve.objectstore import ObjectStore, object_store
from shadowserve.protocol import cloudcontrol, cloudwatch, sagemaker, sts
from shadowserve.protocol import logs as logs_api
from shadowserve.protocol.awsjson_service import AwsJsonService, load_service_model
from shadowserve.protocol.awsquery import QueryService
from shadowserve.services.compare_settings import ExperimentSettings
from shadowserve.services.context import ControlPlane
from shadowserve.services.endpoints import endpoint_status
from shadowserve.services.reconciler import Reconciler
from shadowserve.storage_health import StorageHealth
from shadowserve.store.sql import SqlStore
from shadowserve.workers.artifacts import ArtifactCache
from shadowserve.workers.direct_calls import DirectCalls
from shadowserve.workers.environments import ModelEnvironments
from shadowserve.workers.instance_metrics import InstanceCollector
from shadowserve.workers.launchers import Launcher, LocalLauncher
from shadowserve.workers.runtime import WorkerRuntime
from shadowserve.workers.supervisor import Supervisor

GIL_SWITCH_INTERVAL = 0.0005  # seconds; Python's default is 0.005


@dataclass
class Application:
    settings: Settings
    plane: ControlPlane
    runtime: WorkerRuntime
    events: EventBus
    http: ASGIApp


def _consumers(
    settings: Settings, plane: ControlPlane, objects: ObjectStore, registry: CollectorRegistry
) -> tuple[EventLog | None, CaptureWriter, Aggregator]:
    """What consumes invocation events: the optional event log, capture, and metrics."""
    batch = settings.event_batch_seconds
    event_log = EventLog(settings.event_log, batch_seconds=batch) if settings.event_log else None
    capture = CaptureWriter(
        objects,
        CaptureCounters(registry),
        CaptureLimits(
            flush_seconds=settings.capture_flush_seconds,
            max_buffered_records=settings.capture_max_buffered_records,
        ),
        batch_seconds=batch,
    )
    aggregator = Aggregator(
        plane.store,
        VariantMetrics(registry),
        AggregatorSettings(pair_wait_seconds=settings.shadow_timeout + 30),
        ExperimentSettings(plane, compare_defaults(settings)),
        batch_seconds=batch,
    )
    return event_log, capture, aggregator


def _joined_store(settings: Settings) -> tuple[SqlStore, Membership]:
    """The database, migrated, with this gateway announced on it; before anything starts,
    so a gateway that may not join the others (ClusterRefused) stops here."""
    store = SqlStore(settings.database_url(), writer=settings.gateway())
    membership = Membership(store, settings.gateway(), settings.s3_endpoint_url is not None)
    try:
        membership.join()
    except Exception:
        store.close()
        raise
    return store, membership


class RuntimeUnavailable(Exception):
    """The runtime asked for cannot run here; the message says what to do."""


def _worker_runtime(settings: Settings, routing: RoutingTable, objects: ObjectStore,
                    logs: LogStore) -> WorkerRuntime:  # fmt: skip
    artifacts = ArtifactCache(settings.data_dir / "models", objects, settings.max_model_bytes)
    return WorkerRuntime(routing, _launcher(settings, artifacts), logs)


def _launcher(settings: Settings, artifacts: ArtifactCache) -> Launcher:
    if settings.runtime == "local":
        environments = ModelEnvironments(settings.data_dir / "environments")
        return LocalLauncher(artifacts, environments, settings.data_dir / "workers",
                             settings.worker_hosts(), settings.shadow_niceness)  # fmt: skip
    try:  # Ray is an optional extra: imported only when asked for
        from shadowserve.workers.ray_launcher import RayLauncher  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        raise RuntimeUnavailable(
            f"--runtime ray needs Ray ({exc.name} is not installed): pip install 'shadowserve[ray]'"
        ) from exc
    assert settings.ray_address is not None
    try:
        return RayLauncher(settings.ray_address, settings.ray_namespace, artifacts,
                           settings.ray_node_dir, settings.max_model_bytes,
                           settings.ray_unclaimed_grace)  # fmt: skip
    except ConnectionError as exc:
        raise RuntimeUnavailable(
            f"cannot reach the Ray cluster at {settings.ray_address}: {exc}"
        ) from exc


def _shadow_dispatcher(settings: Settings, events: EventBus,
                       registry: CollectorRegistry) -> ShadowDispatcher:  # fmt: skip
    return ShadowDispatcher(
        events,
        ShadowCounters(registry),
        concurrency=settings.shadow_concurrency,
        queue_size=settings.shadow_queue_size,
        timeout=settings.shadow_timeout,
        probes=NoiseProbes(settings.noise_probe_percentage),
        admission=LoopLagAdmission(settings.shadow_shed_lag_ms),
    )


def _registry(settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry()
    # Every gateway's /metrics says which gateway it is: join on it, or on the scrape's
    # instance label, to tell gateways sharing one database apart.
    Info("shadowserve_gateway", "This server's id among servers sharing its database",
         registry=registry).info({"gateway": settings.gateway()})  # fmt: skip
    return registry


def _health(storage: StorageHealth, membership: Membership,
            coordination: Coordination) -> dict[str, object]:  # fmt: skip
    """/healthz: the data dir's space, this gateway's id, whether it leads, and the gateways
    sharing its database with the one that leads (None when the database cannot be read)."""
    try:
        peers: list[str] | None = [peer.gateway for peer in membership.peers()]
        leader = coordination.leader()
    except Exception:  # the database is down: still healthy enough to serve invocations
        peers, leader = None, None
    return {**storage.report(), "gateway": membership.gateway, "leads": coordination.leads(),
            "gateways": peers, "leader": leader}  # fmt: skip


def build_application(settings: Settings, clock: Clock | None = None) -> Application:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store, membership = _joined_store(settings)
    routing = RoutingTable()
    objects = object_store(settings.s3_endpoint_url, settings.data_dir)
    logs = LogStore(settings.data_dir / "logs")
    runtime = _worker_runtime(settings, routing, objects, logs)
    placements = runtime if settings.runtime == "ray" else None  # live counts and nodes
    plane = ControlPlane(store=store, clock=clock or SystemClock(), runtime=runtime,
                         placements=placements)  # fmt: skip
    coordination = Coordination(store, routing, settings.gateway(), settings.database_url(),
                                release_workers=runtime.shutdown)  # fmt: skip
    reconciler = Reconciler(replace(plane, store=coordination.fenced()),
                            settings.reconcile_interval, leads=coordination.leads,
                            epoch=coordination.leadership.epoch)  # fmt: skip
    requests = RequestWorker(plane, min(0.2, settings.reconcile_interval),
                             owner=settings.gateway(),
                             lease_seconds=settings.cloudcontrol_lease_seconds)  # fmt: skip
    supervisor = Supervisor(runtime, leads=coordination.leads)
    registry = _registry(settings)
    registry.register(InstanceCollector(runtime))
    events = EventBus()
    event_log, capture, aggregator = _consumers(settings, plane, objects, registry)
    for consumer in (event_log, capture, aggregator):
        if consumer is not None:
            events.subscribe(consumer)
    shadows = _shadow_dispatcher(settings, events, registry)

    async def lookup(scope: Scope, name: str) -> tuple[EndpointStatus, str | None] | None:
        return await run_in_threadpool(endpoint_status, plane, scope, name)

    invoker = Invoker(routing, shadows, events, lookup, settings.model_timeout)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if event_log is not None:
            event_log.start()
        capture.start()
        aggregator.start()
        await invoker.start()
        await shadows.start()
        # The supervisor before the lead is taken: a new leader's workers are watched at once.
        for background in (supervisor, coordination, reconciler, requests, membership):
            background.start()
        # Everything loaded at start (botocore's service models are millions of objects) is
        # moved out of the garbage collector's sight: full collections otherwise scan it all
        # and stall requests for 100 ms or more.
        gc.collect()
        gc.freeze()
        # The event loop gives up the GIL at every system call; with the consumer threads
        # busy it would then wait up to the default 5 ms to get it back, which showed as
        # production p99. Measured in `make bench` (docs/benchmarks.md).
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        try:
            yield
        finally:
            # Stop taking new work first, then stop what serves it.
            for background in (membership, requests, reconciler, coordination):
                background.stop()
            membership.leave()
            await shadows.stop()
            await invoker.stop()
            supervisor.stop()
            # Consumers last: every event of every request already answered is written.
            capture.stop()
            aggregator.stop()
            if event_log is not None:
                event_log.stop()
            store.close()

    json_services, query_services = aws_services(plane, logs)
    http = build_http_app(
        access_for(settings),
        json_services,
        query_services,
        invoker,
        ApiDependencies(
            plane,
            compare_defaults(settings),
            objects,
            DirectCalls(runtime, settings.model_timeout),
            settings.shadow_niceness,
        ),
        registry,
        partial(_health, StorageHealth(settings.data_dir, registry), membership, coordination),
        lifespan=lifespan,
    )
    return Application(settings, plane, runtime, events, http)


def aws_services(
    plane: ControlPlane, logs: LogStore
) -> tuple[dict[str, Mounted], dict[str, QueryService]]:
    """The AWS services answered on the one port: awsJson ones by X-Amz-Target prefix, and
    awsQuery ones by API version."""
    sagemaker_service = AwsJsonService(load_service_model("sagemaker"), sagemaker.OPERATIONS)
    cloud_control = AwsJsonService(
        load_service_model("cloudcontrol"), cloudcontrol.OPERATIONS, cloudcontrol.NAMESPACE
    )
    metrics_reads = AwsJsonService(
        load_service_model("cloudwatch"),
        cloudwatch.OPERATIONS,
        cloudwatch.NAMESPACE,
        validation_error="InvalidParameterValueException",
    )
    endpoint_logs = AwsJsonService(
        load_service_model("logs"), logs_api.OPERATIONS,
        validation_error="InvalidParameterException",
    )  # fmt: skip
    identity = AwsJsonService(load_service_model("sts"), sts.OPERATIONS)
    json_services = {
        "SageMaker": Mounted(sagemaker_service, plane),
        "CloudApiService": Mounted(cloud_control, plane),
        "GraniteServiceVersion20100801": Mounted(metrics_reads, plane),
        "Logs_20140328": Mounted(endpoint_logs, logs),
    }
    query_services = {
        metrics_reads.model.api_version: QueryService(
            metrics_reads.model.api_version, metrics_reads, plane
        ),
        sts.VERSION: QueryService(sts.VERSION, identity, plane),
    }
    return json_services, query_services


def compare_defaults(settings: Settings) -> CompareSettings:
    """How outputs are compared where an experiment's tags say nothing."""
    return CompareSettings(tolerance=settings.output_tolerance)


def access_for(settings: Settings) -> Access:
    """Who may call: anyone (the default, for local use) or SigV4 signers of known keys."""
    if settings.auth == "sigv4":
        if settings.credentials_file is None:
            raise ValueError("--auth sigv4 needs --credentials-file")
        return SigV4Access(load_keys(settings.credentials_file), settings.account_id)
    return OpenAccess(settings.account_id)
