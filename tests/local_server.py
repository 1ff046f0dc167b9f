"""A server of its own for tests that count and kill its processes, with models in its
local object store, and a traffic loop that keeps every answer and failure."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shadowserve.cli.server_process import ServerProcess
from tests.conftest import FAST, client
from tests.dataplane_support import SCALING_MODEL, model_archive, worker_pids


class LocalServer:
    """A server of its own (its workers are counted and killed), models in its local store."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.process = ServerProcess(data_dir, extra_args=FAST).start()
        self.sagemaker = client(self.process.url)
        self.runtime = client(self.process.url, "sagemaker-runtime")

    def model(self, name: str, scale: int, **environment: str) -> None:
        target = self.data_dir / "objects" / "models" / name / "model.tar.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(model_archive(SCALING_MODEL))
        self.sagemaker.create_model(ModelName=name, PrimaryContainer={
            "Image": "x", "ModelDataUrl": f"s3://models/{name}/model.tar.gz",
            "Environment": {"SCALE": str(scale), **environment}})  # fmt: skip

    def config(self, name: str, model: str, count: int) -> None:
        self.sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": count,
             "InstanceType": "ml.m5.large"}])  # fmt: skip

    def endpoint(self, name: str, model: str, count: int = 1) -> None:
        """An InService endpoint serving `model`, its config named after it."""
        self.config(name, model, count=count)
        self.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
        self.wait_in_service(name)

    def wait_in_service(self, endpoint: str) -> None:
        self.sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName=endpoint, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
        )

    def invoke(self, endpoint: str, value: float) -> Any:
        response = self.runtime.invoke_endpoint(
            EndpointName=endpoint, Body=json.dumps([value]), ContentType="application/json"
        )
        return json.loads(response["Body"].read())

    def pids(self, fragment: str = "") -> list[int]:
        return worker_pids(self.data_dir, fragment)


class Traffic:
    """Invokes an endpoint in a loop on a thread, keeping every answer and every failure."""

    def __init__(self, local: LocalServer, endpoint: str) -> None:
        self.answers: list[Any] = []
        self.failures: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(local, endpoint))

    def _run(self, local: LocalServer, endpoint: str) -> None:
        while not self._stop.is_set():
            try:
                self.answers.append(local.invoke(endpoint, 1))
            except BaseException as exc:
                self.failures.append(exc)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalServer]:
    server = LocalServer(tmp_path / "data")
    yield server
    server.process.stop()
