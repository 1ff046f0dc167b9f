"""Fixtures: a server with S3 (moto), an event log and tight shadow bounds, plus model
builders. Loaded for every test directory by tests/conftest.py."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from shadowserve.cli.server_process import ServerProcess
from tests.builders import model_variant
from tests.conftest import FAST, client
from tests.dataplane_support import (
    SCALING_MODEL,
    ContainerHandler,
    metric,
    model_archive,
    moto_s3,
    read_events,
    wait_until,
)

SHADOW_TIMEOUT = 3.0
MODEL_TIMEOUT = 5.0


@pytest.fixture(scope="session")
def s3_url() -> Iterator[str]:
    with moto_s3() as url:
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        s3.create_bucket(Bucket="models")
        s3.create_bucket(Bucket="capture")
        yield url


@pytest.fixture(scope="session")
def dp_server(tmp_path_factory: pytest.TempPathFactory, s3_url: str) -> Iterator[ServerProcess]:
    with dataplane_server(tmp_path_factory.mktemp("dp"), s3_url) as process:
        yield process


@contextmanager
def dataplane_server(data_dir: Path, s3_url: str, *extra: str) -> Iterator[ServerProcess]:
    """The data-plane tests' server; ``extra`` flags go after the shared ones."""
    args = [
        *FAST,
        "--s3-endpoint-url", s3_url,
        "--event-log", str(data_dir / "events.jsonl"),
        "--shadow-timeout", str(SHADOW_TIMEOUT),
        "--model-timeout", str(MODEL_TIMEOUT),
        "--shadow-concurrency", "4",
        "--shadow-queue-size", "4",
        "--capture-flush-seconds", "1",
        *extra,
    ]  # fmt: skip
    with ServerProcess(data_dir, extra_args=args) as process:
        yield process


class Models:
    """Builds models from inference.py source, deploys endpoints, starts experiments."""

    def __init__(self, server: ServerProcess, s3_url: str) -> None:
        self.server = server
        self.sagemaker = client(server.url)
        self.runtime = client(server.url, "sagemaker-runtime")
        self.s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1")
        self.events_path = server.data_dir / "events.jsonl"
        self.endpoints: list[str] = []  # created here, deleted when the test is done
        self.experiments: list[str] = []

    def clean_up(self) -> list[str]:
        """Stop this test's experiments and delete its endpoints, so the shared server does
        not keep supervising every worker of every earlier test. Endpoints whose experiment
        is still stopping are returned, for a later try."""
        for name in self.experiments:
            with contextlib.suppress(ClientError):
                self.sagemaker.stop_inference_experiment(
                    Name=name, ModelVariantActions={"shadow": "Remove"}
                )
        return [name for name in self.endpoints if not self.delete_endpoint(name)]

    def delete_endpoint(self, name: str) -> bool:
        try:
            self.sagemaker.delete_endpoint(EndpointName=name)
        except ClientError as exc:
            return "Could not find" in exc.response["Error"]["Message"]
        return True

    def model(
        self,
        source: str = SCALING_MODEL,
        environment: dict[str, str] | None = None,
        extra_files: dict[str, str] | None = None,
        image: str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sklearn:1",
    ) -> str:
        name = f"m-{uuid.uuid4().hex[:10]}"
        key = f"{name}/model.tar.gz"
        self.s3.put_object(Bucket="models", Key=key, Body=model_archive(source, extra_files))
        container: dict[str, Any] = {"Image": image, "ModelDataUrl": f"s3://models/{key}"}
        if environment:
            container["Environment"] = environment
        self.sagemaker.create_model(ModelName=name, PrimaryContainer=container)
        return name

    def endpoint(self, model: str, count: int = 1, wait: bool = True, **variant: Any) -> str:
        name = f"ep-{uuid.uuid4().hex[:10]}"
        production = {
            "VariantName": "AllTraffic",
            "ModelName": model,
            "InitialInstanceCount": count,
            "InstanceType": "ml.m5.large",
            **variant,
        }
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=name, ProductionVariants=[production]
        )
        self.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
        self.endpoints.append(name)
        if wait:
            self.wait_in_service(name)
        return name

    def wait_in_service(self, endpoint: str) -> dict[str, Any]:
        self.sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName=endpoint, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
        )
        described: dict[str, Any] = self.sagemaker.describe_endpoint(EndpointName=endpoint)
        return described

    def experiment(
        self,
        endpoint: str,
        production: str,
        shadow: str,
        sampling: int = 100,
        shadow_count: int = 1,
        **extra: Any,
    ) -> str:
        name = f"x-{uuid.uuid4().hex[:10]}"
        self.experiments.append(name)
        self.sagemaker.create_inference_experiment(
            Name=name, Type="ShadowMode", RoleArn="arn:aws:iam::123456789012:role/r",
            EndpointName=endpoint, **extra,
            ModelVariants=[
                model_variant(production, "AllTraffic"),
                model_variant(shadow, "shadow", count=shadow_count),
            ],
            ShadowModeConfig={"SourceModelVariantName": "AllTraffic", "ShadowModelVariants": [
                {"ShadowModelVariantName": "shadow", "SamplingPercentage": sampling}]},
        )  # fmt: skip
        wait_until(
            lambda: self.sagemaker.describe_inference_experiment(Name=name)["Status"] == "Running",
            timeout=60,
        )
        return name

    def invoke(self, endpoint: str, payload: Any, **kwargs: Any) -> Any:
        response = self.runtime.invoke_endpoint(
            EndpointName=endpoint, Body=json.dumps(payload), ContentType="application/json",
            **kwargs,
        )  # fmt: skip
        return json.loads(response["Body"].read()), response

    def events(self, endpoint: str) -> list[dict[str, Any]]:
        return [e for e in read_events(self.events_path) if e["endpoint"] == endpoint]

    def shadow_count(self, endpoint: str, outcome: str) -> float:
        """The endpoint's shadow copies with ``outcome`` so far, from /metrics."""
        return metric(self.server.url, "shadowserve_shadow_requests_total",
                      endpoint=endpoint, variant="shadow", outcome=outcome)  # fmt: skip


# Endpoints of earlier tests whose experiment was still stopping when they ended.
_LEFTOVER_ENDPOINTS: list[str] = []


@pytest.fixture
def models(dp_server: ServerProcess, s3_url: str) -> Iterator[Models]:
    found = Models(dp_server, s3_url)
    _LEFTOVER_ENDPOINTS[:] = [name for name in _LEFTOVER_ENDPOINTS
                              if not found.delete_endpoint(name)]  # fmt: skip
    yield found
    _LEFTOVER_ENDPOINTS.extend(found.clean_up())


@pytest.fixture
def data_dir(dp_server: ServerProcess) -> Path:
    return dp_server.data_dir


@contextmanager
def running_container_endpoint(models: Models, model_name: str) -> Iterator[str]:
    """An endpoint whose model is a running ContainerHandler (an external container)."""
    http = ThreadingHTTPServer(("127.0.0.1", 0), ContainerHandler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        models.sagemaker.create_model(
            ModelName=model_name,
            PrimaryContainer={"Image": f"http://127.0.0.1:{http.server_address[1]}"},
        )
        yield models.endpoint(model_name)
    finally:
        http.shutdown()
