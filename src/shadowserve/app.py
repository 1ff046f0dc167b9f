"""The composition root: settings in, a running application out. Only here are concrete
adapters chosen and wired together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette

from shadowserve.config import Settings
from shadowserve.domain.clock import Clock, SystemClock
from shadowserve.http.app import Mounted, build_http_app
from shadowserve.protocol import sagemaker
from shadowserve.protocol.awsjson_service import AwsJsonService, load_service_model
from shadowserve.services.context import ControlPlane
from shadowserve.services.reconciler import Reconciler
from shadowserve.services.runtime import ControlPlaneOnlyRuntime
from shadowserve.store.sql import SqlStore


@dataclass
class Application:
    settings: Settings
    plane: ControlPlane
    reconciler: Reconciler
    http: Starlette


def build_application(settings: Settings, clock: Clock | None = None) -> Application:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqlStore(settings.database_url())
    plane = ControlPlane(
        store=store, clock=clock or SystemClock(), runtime=ControlPlaneOnlyRuntime()
    )
    reconciler = Reconciler(plane, settings.reconcile_interval)
    sagemaker_service = AwsJsonService(load_service_model("sagemaker"), sagemaker.OPERATIONS)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        reconciler.start()
        try:
            yield
        finally:
            reconciler.stop()
            store.close()

    http = build_http_app(
        settings.account_id,
        {"SageMaker": Mounted(sagemaker_service, plane)},
        lifespan=lifespan,
    )
    return Application(settings, plane, reconciler, http)
