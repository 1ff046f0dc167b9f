"""The S3 endpoint down while models are downloaded: running endpoints keep answering, a new
endpoint fails with a FailureReason that says what happened, an update fails and leaves the
endpoint serving its previous model, and all of it works again once S3 is back.
(S3 down during capture: tests/dataplane/test_capture.py.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from shadowserve.cli.server_process import ServerProcess
from tests.conftest import FAST, client
from tests.dataplane_support import MotoServer, model_archive

SCALE_MODEL = """
    import os

    def model_fn(model_dir):
        return float(os.environ["SCALE"])

    def predict_fn(data, scale):
        return [x * scale for x in data]
"""


class Setup:
    def __init__(self, server: ServerProcess, s3: MotoServer) -> None:
        self.s3_server = s3
        self.sagemaker = client(server.url)
        self.runtime = client(server.url, "sagemaker-runtime")

    def upload(self, name: str) -> None:
        s3 = boto3.client("s3", endpoint_url=self.s3_server.url, region_name="us-east-1")
        s3.create_bucket(Bucket="models")
        s3.put_object(Bucket="models", Key=f"{name}.tar.gz", Body=model_archive(SCALE_MODEL))

    def model(self, name: str, scale: int) -> None:
        self.upload(name)
        self.sagemaker.create_model(ModelName=name, PrimaryContainer={
            "Image": "x", "ModelDataUrl": f"s3://models/{name}.tar.gz",
            "Environment": {"SCALE": str(scale)}})  # fmt: skip

    def config(self, name: str, model: str) -> None:
        self.sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}])  # fmt: skip

    def settled(self, endpoint: str) -> dict[str, Any]:
        for _ in range(600):
            described: dict[str, Any] = self.sagemaker.describe_endpoint(EndpointName=endpoint)
            if described["EndpointStatus"] in ("InService", "Failed"):
                return described
            time.sleep(0.1)
        raise AssertionError(f"{endpoint} never settled")

    def invoke(self, endpoint: str) -> Any:
        response = self.runtime.invoke_endpoint(EndpointName=endpoint, Body=b"[1]",
                                                ContentType="application/json")  # fmt: skip
        return json.loads(response["Body"].read())


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    s3 = MotoServer().start()
    args = [*FAST, "--s3-endpoint-url", s3.url]
    try:
        with ServerProcess(tmp_path / "data", extra_args=args) as server:
            yield Setup(server, s3)
    finally:
        s3.stop()


def test_s3_down_during_model_download(setup: Setup) -> None:
    setup.model("two", 2)
    setup.model("three", 3)
    setup.config("c-two", "two")
    setup.config("c-three", "three")
    setup.sagemaker.create_endpoint(EndpointName="running", EndpointConfigName="c-two")
    assert setup.settled("running")["EndpointStatus"] == "InService"

    setup.s3_server.stop()
    # What already runs does not need S3.
    assert setup.invoke("running") == [2.0]
    # A new endpoint fails and says why.
    setup.sagemaker.create_endpoint(EndpointName="new", EndpointConfigName="c-three")
    failed = setup.settled("new")
    assert failed["EndpointStatus"] == "Failed"
    reason = failed["FailureReason"]
    assert "Could not download s3://models/three.tar.gz" in reason
    assert setup.s3_server.url in reason
    # An update fails too, and the endpoint keeps serving its previous model.
    setup.sagemaker.update_endpoint(EndpointName="running", EndpointConfigName="c-three")
    updated = setup.settled("running")
    assert updated["EndpointStatus"] == "InService"
    assert updated["EndpointConfigName"] == "c-two"
    assert "Could not download" in updated["FailureReason"]
    assert setup.invoke("running") == [2.0]

    setup.s3_server.start()  # moto comes back empty: the archive is uploaded again
    setup.upload("three")
    setup.sagemaker.update_endpoint(EndpointName="running", EndpointConfigName="c-three")
    recovered = setup.settled("running")
    assert recovered["EndpointStatus"] == "InService", recovered
    assert recovered["EndpointConfigName"] == "c-three", recovered.get("FailureReason")
    assert setup.invoke("running") == [3.0]
    setup.sagemaker.delete_endpoint(EndpointName="new")
    setup.sagemaker.get_waiter("endpoint_deleted").wait(
        EndpointName="new", WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    setup.sagemaker.create_endpoint(EndpointName="new", EndpointConfigName="c-three")
    assert setup.settled("new")["EndpointStatus"] == "InService"
    assert setup.invoke("new") == [3.0]
