"""Models run for real: SageMaker's model.tar.gz + inference.py convention, from S3 (moto),
the local object store, or an already-running container."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shadowserve.cli.server_process import ServerProcess
from tests.conftest import client
from tests.dataplane_fixtures import Models
from tests.dataplane_support import model_archive, wait_until


def test_model_from_s3_answers_through_boto3(models: Models) -> None:
    endpoint = models.endpoint(models.model(environment={"SCALE": "10"}))
    body, response = models.invoke(endpoint, [1, 2.5])
    assert body == [10.0, 25.0]
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"


def test_default_handlers_speak_csv_and_npy(models: Models) -> None:
    source = """
        import numpy as np

        def model_fn(model_dir):
            return lambda rows: np.asarray(rows).sum(axis=1)
    """
    endpoint = models.endpoint(models.model(source))
    csv = models.runtime.invoke_endpoint(
        EndpointName=endpoint, Body=b"1,2,3\n4,5,6\n", ContentType="text/csv", Accept="text/csv"
    )
    assert csv["ContentType"] == "text/csv"
    assert csv["Body"].read().decode().split() == ["6.0,15.0"]
    buffer = io.BytesIO()
    np.save(buffer, np.array([[1.0, 1.0], [2.0, 2.0]]))
    npy = models.runtime.invoke_endpoint(
        EndpointName=endpoint, Body=buffer.getvalue(), ContentType="application/x-npy",
        Accept="application/x-npy",
    )  # fmt: skip
    assert np.load(io.BytesIO(npy["Body"].read())).tolist() == [2.0, 4.0]
    as_json = models.runtime.invoke_endpoint(
        EndpointName=endpoint, Body=b"[[1, 2]]", ContentType="application/json"
    )
    assert json.loads(as_json["Body"].read()) == [3]


def test_transform_fn_and_sagemaker_program(models: Models) -> None:
    other = """
        def model_fn(model_dir):
            return "serve.py"

        def transform_fn(model, body, content_type, accept):
            return body.upper(), "text/plain"
    """
    name = models.model(
        "raise RuntimeError('inference.py must not be imported')",
        environment={"SAGEMAKER_PROGRAM": "serve.py"},
        extra_files={"code/serve.py": other},
    )
    endpoint = models.endpoint(name)
    response = models.runtime.invoke_endpoint(
        EndpointName=endpoint, Body=b"shadow", ContentType="text/plain"
    )
    assert response["Body"].read() == b"SHADOW"
    assert response["ContentType"] == "text/plain"


def test_model_files_and_environment_reach_the_model(models: Models) -> None:
    source = """
        import json, os, sys

        def model_fn(model_dir):
            with open(os.path.join(model_dir, "weights.json")) as f:
                return json.load(f)

        def predict_fn(data, model):
            import helper
            return {"weights": model, "env": os.environ["GREETING"], "helper": helper.VALUE}
    """
    name = models.model(
        source,
        environment={"GREETING": "hello"},
        extra_files={"weights.json": "[1, 2]", "code/helper.py": "VALUE = 7\n"},
    )
    body, _ = models.invoke(models.endpoint(name), {})
    assert body == {"weights": [1, 2], "env": "hello", "helper": 7}


def test_requirements_txt_met_by_the_server_installs_nothing(models: Models) -> None:
    satisfied = models.model(extra_files={"code/requirements.txt": "numpy>=1.20\n"})
    endpoint = models.endpoint(satisfied)
    logs = client(models.server.url, "logs").filter_log_events(
        logGroupName=f"/aws/sagemaker/Endpoints/{endpoint}", filterPattern="requirements.txt"
    )["events"]
    assert "every requirement is met by the server's packages" in logs[0]["message"]
    # (Installation itself: tests/dataplane/test_framework_conventions.py.)
    missing = models.model(
        extra_files={"code/requirements.txt": "--no-index\nno-such-package-xyz==1.0\n"}
    )
    endpoint = models.endpoint(missing, wait=False)
    described = wait_until(lambda: _failed(models, endpoint), timeout=60)
    assert "no-such-package-xyz==1.0" in described["FailureReason"]


def _failed(models: Models, endpoint: str) -> dict[str, Any] | None:
    described: dict[str, Any] = models.sagemaker.describe_endpoint(EndpointName=endpoint)
    return described if described["EndpointStatus"] == "Failed" else None


def test_a_model_that_cannot_load_fails_the_endpoint_with_its_error(models: Models) -> None:
    source = """
        def model_fn(model_dir):
            raise ValueError("weights are corrupt")
    """
    endpoint = models.endpoint(models.model(source), wait=False)
    described = wait_until(lambda: _failed(models, endpoint), timeout=60)
    assert "ValueError: weights are corrupt" in described["FailureReason"]
    with pytest.raises(models.runtime.exceptions.ValidationError) as excinfo:
        models.invoke(endpoint, [1])
    assert "Failed" in str(excinfo.value)


def test_missing_model_data_fails_the_endpoint(models: Models) -> None:
    models.sagemaker.create_model(
        ModelName="no-data-model",
        PrimaryContainer={"Image": "x", "ModelDataUrl": "s3://models/not/there.tar.gz"},
    )
    endpoint = models.endpoint("no-data-model", wait=False)
    described = wait_until(lambda: _failed(models, endpoint), timeout=60)
    assert "s3://models/not/there.tar.gz" in described["FailureReason"]


def test_local_object_store_is_the_default(server: ServerProcess) -> None:
    """With no S3 endpoint configured, s3://bucket/key is <data-dir>/objects/bucket/key."""
    target = server.data_dir / "objects" / "local-bucket" / "toy" / "model.tar.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(model_archive("def model_fn(d):\n    return lambda x: [v + 1 for v in x]\n"))
    sagemaker, runtime = client(server.url), client(server.url, "sagemaker-runtime")
    sagemaker.create_model(
        ModelName="local-store-model",
        PrimaryContainer={"Image": "any", "ModelDataUrl": "s3://local-bucket/toy/model.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="local-store",
        ProductionVariants=[{"VariantName": "v", "ModelName": "local-store-model",
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    )  # fmt: skip
    sagemaker.create_endpoint(EndpointName="local-store", EndpointConfigName="local-store")
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName="local-store", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    response = runtime.invoke_endpoint(
        EndpointName="local-store", Body=b"[1, 2]", ContentType="application/json"
    )
    assert json.loads(response["Body"].read()) == [2, 3]


def test_an_http_image_is_a_running_container(models: Models, tmp_path: Path) -> None:
    """Image http://host:port means "a container already running there": we route to it."""
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "inference.py").write_text(
        "def model_fn(d):\n    return lambda x: {'from': 'container', 'got': x}\n"
    )
    container = subprocess.Popen(
        [sys.executable, "-m", "shadowserve.workers.python_worker", "--model-dir",
         str(model_dir), "--port-file", str(tmp_path / "port"), "--error-file",
         str(tmp_path / "error"), "--parent-pid", str(os.getpid())],
    )  # fmt: skip
    try:
        port = wait_until(lambda: (tmp_path / "port").exists() and (tmp_path / "port").read_text())
        time.sleep(0.2)
        models.sagemaker.create_model(
            ModelName="external-container",
            PrimaryContainer={"Image": f"http://127.0.0.1:{port}"},
        )
        endpoint = models.endpoint("external-container")
        body, _ = models.invoke(endpoint, [5])
        assert body == {"from": "container", "got": [5]}
    finally:
        container.terminate()
        container.wait(10)
