"""The data directory's disk fills up: the server keeps serving invocations, refuses changes
with a clear ServiceUnavailable (nothing half-written), reports it on /healthz and /metrics,
and once space is freed carries on with every committed change intact, across a restart."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from shadowserve.cli.server_process import ServerProcess
from tests import builders
from tests.conftest import FAST, client
from tests.dataplane_support import metric


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB file system of its own (tmpfs), so filling it harms nothing else."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs",
                              str(mount_point)], capture_output=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(path: Path) -> None:
    with path.open("wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass


def test_disk_full(small_disk: Path) -> None:
    data_dir = small_disk / "data"
    server = ServerProcess(data_dir, extra_args=FAST, log_path=small_disk.parent / "log").start()
    try:
        sagemaker = client(server.url, attempts=1)
        runtime = client(server.url, "sagemaker-runtime", attempts=1)
        builders.create_model(sagemaker, "before")
        sagemaker.create_endpoint_config(
            EndpointConfigName="cfg",
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "before",
                                 "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
            DataCaptureConfig={"InitialSamplingPercentage": 100,
                               "DestinationS3Uri": "s3://capture/full",
                               "CaptureOptions": [{"CaptureMode": "Input"}]},
        )  # fmt: skip
        sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
        sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName="ep", WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
        )

        filler = small_disk / "filler"
        _fill(filler)
        with pytest.raises(ClientError) as refused:
            builders.create_model(sagemaker, "after")
        error = refused.value.response
        assert error["Error"]["Code"] == "ServiceUnavailable"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert "storage is full" in error["Error"]["Message"]
        # Reads and invocations go on; capture records that cannot be written are the
        # capture sink's problem, never the request's.
        assert sagemaker.describe_model(ModelName="before")["ModelName"] == "before"
        for value in range(20):
            answer = runtime.invoke_endpoint(EndpointName="ep", Body=json.dumps([value]),
                                             ContentType="application/json")  # fmt: skip
            assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
        health = httpx.get(server.url + "/healthz").json()
        assert health["status"] == "degraded" and "out of space" in health["reason"]
        assert metric(server.url, "shadowserve_data_dir_free_bytes") < 1024 * 1024

        filler.unlink()
        builders.create_model(sagemaker, "after")
        assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
    finally:
        server.stop()
    with ServerProcess(data_dir, extra_args=FAST, log_path=small_disk.parent / "log") as again:
        sagemaker = client(again.url, attempts=1)
        names = {model["ModelName"] for model in sagemaker.list_models()["Models"]}
        assert names == {"before", "after"}
        assert sagemaker.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"
