"""SIGKILL of a worker while it is answering: that request fails cleanly in AWS's shape, the
worker comes back, and the endpoint's other variant never notices."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import client
from tests.dataplane_support import wait_until
from tests.local_server import LocalServer


def _invoke(local: LocalServer, variant: str, value: float) -> Any:
    runtime = client(local.process.url, "sagemaker-runtime", attempts=1)
    response = runtime.invoke_endpoint(
        EndpointName="two", Body=json.dumps([value]), ContentType="application/json",
        TargetVariant=variant,
    )  # fmt: skip
    return json.loads(response["Body"].read())


def _answer_or_none(local: LocalServer, variant: str) -> Any:
    try:
        return _invoke(local, variant, 1)
    except ClientError:
        return None


def test_worker_killed_mid_request(local: LocalServer) -> None:
    local.model("slow", 2, SLEEP="3")
    local.model("fast", 3)
    local.sagemaker.create_endpoint_config(EndpointConfigName="two", ProductionVariants=[
        {"VariantName": "A", "ModelName": "slow", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"},
        {"VariantName": "B", "ModelName": "fast", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}])  # fmt: skip
    local.sagemaker.create_endpoint(EndpointName="two", EndpointConfigName="two")
    local.wait_in_service("two")
    slow_pids, fast_pids = local.pids("/two/A/"), local.pids("/two/B/")
    assert len(slow_pids) == 1 and len(fast_pids) == 1

    outcome: dict[str, Any] = {}

    def in_flight() -> None:
        try:
            outcome["answer"] = _invoke(local, "A", 1)
        except ClientError as exc:
            outcome["error"] = exc.response

    thread = threading.Thread(target=in_flight)
    thread.start()
    time.sleep(1.2)  # the slow model (3 s per call) is now inside predict_fn
    os.kill(slow_pids[0], signal.SIGKILL)
    # The other variant answers throughout.
    assert [_invoke(local, "B", v) for v in range(5)] == [[3.0 * v] for v in range(5)]
    thread.join(30)

    error = outcome.get("error")
    assert error is not None, outcome
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert "closed the connection" in error["Error"]["Message"]
    # The killed worker is replaced and answers; variant B's worker was never touched.
    assert wait_until(lambda: [p for p in local.pids("/two/A/") if p not in slow_pids])
    assert wait_until(lambda: _answer_or_none(local, "A") == [2.0], timeout=30)
    assert local.pids("/two/B/") == fast_pids
