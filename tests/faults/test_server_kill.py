"""SIGKILL of the server under load, then a restart on the same data: every resource, the
running experiment and its schedule, the stored metrics and the Cloud Control request
records are back, and the experiment goes on mirroring traffic."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shadowserve.cli.server_process import ServerProcess
from tests.builders import model_variant
from tests.conftest import FAST, client
from tests.dataplane_support import wait_until
from tests.local_server import LocalServer, Traffic


def _report(url: str, experiment: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/api/experiments/{experiment}/report", timeout=30)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def _invocations(url: str, experiment: str, role: str) -> int:
    variants = _report(url, experiment)["variants"]
    return int(variants[role]["invocations"]) if role in variants else 0


def test_server_killed_under_load_comes_back_whole(local: LocalServer) -> None:
    local.model("prod", 2)
    local.model("cand", 2)
    local.endpoint("ep", "prod")
    end = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    local.sagemaker.create_inference_experiment(
        Name="x", Type="ShadowMode", RoleArn="arn:aws:iam::123456789012:role/r",
        EndpointName="ep", Schedule={"EndTime": end},
        ModelVariants=[model_variant("prod", "AllTraffic"), model_variant("cand", "shadow")],
        ShadowModeConfig={"SourceModelVariantName": "AllTraffic", "ShadowModelVariants": [
            {"ShadowModelVariantName": "shadow", "SamplingPercentage": 100}]},
    )  # fmt: skip
    wait_until(lambda: local.sagemaker.describe_inference_experiment(Name="x")["Status"]
               == "Running", timeout=60)  # fmt: skip
    cloud = client(local.process.url, "cloudcontrol")
    token = cloud.create_resource(
        TypeName="AWS::SageMaker::Model",
        DesiredState=json.dumps({"ModelName": "cc-model", "PrimaryContainer": {"Image": "x"}}),
    )["ProgressEvent"]["RequestToken"]
    cloud.get_waiter("resource_request_success").wait(
        RequestToken=token, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )

    url = local.process.url
    with Traffic(local, "ep") as traffic:
        wait_until(lambda: _invocations(url, "x", "shadow") >= 30, timeout=60)
    assert traffic.failures == []
    time.sleep(3)  # metrics are stored every 2 s: what is stored now must come back
    stored = {role: _invocations(url, "x", role) for role in ("production", "shadow")}

    with Traffic(local, "ep") as traffic:  # killed under load
        wait_until(lambda: len(traffic.answers) >= 20)
        local.process.kill()
        time.sleep(0.5)

    restarted = ServerProcess(local.data_dir, port=local.process.port, extra_args=FAST).start()
    local.process = restarted  # stopped by the fixture
    sagemaker = client(restarted.url)
    experiment = sagemaker.describe_inference_experiment(Name="x")
    assert experiment["Status"] == "Running"
    assert experiment["Schedule"]["EndTime"] == end
    assert {m["ModelName"] for m in sagemaker.list_models()["Models"]} == {
        "prod", "cand", "cc-model"}  # fmt: skip
    local.wait_in_service("ep")
    cloud = client(restarted.url, "cloudcontrol")
    status = cloud.get_resource_request_status(RequestToken=token)["ProgressEvent"]
    assert status["OperationStatus"] == "SUCCESS"
    assert status["Identifier"].endswith(":model/cc-model")  # the primary identifier: the ARN
    listed = cloud.list_resource_requests()["ResourceRequestStatusSummaries"]
    assert token in [summary["RequestToken"] for summary in listed]
    for role, count in stored.items():
        assert _invocations(restarted.url, "x", role) >= count, role

    # The experiment goes on: new traffic is answered and mirrored again.
    before = _invocations(restarted.url, "x", "shadow")
    with Traffic(local, "ep") as traffic:
        wait_until(lambda: _invocations(restarted.url, "x", "shadow") >= before + 10, timeout=60)
    assert traffic.failures == []
