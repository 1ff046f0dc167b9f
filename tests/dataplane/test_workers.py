"""Variants are supervised worker processes: restarted, rolled without failing a request,
stopped with their endpoint and with the server, however it ends."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shadowserve.cli.server_process import ServerProcess
from tests.builders import model_variant
from tests.conftest import FAST
from tests.dataplane_support import (
    process_alive,
    wait_until,
)
from tests.local_server import LocalServer, Traffic


def test_instance_count_workers_and_restart_after_a_crash(local: LocalServer) -> None:
    local.model("m1", 2)
    local.config("c1", "m1", count=2)
    local.sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
    local.wait_in_service("ep")
    pids = local.pids("/ep/AllTraffic/")
    assert len(pids) == 2
    os.kill(pids[0], signal.SIGKILL)
    # The other worker keeps answering while the killed one comes back.
    for value in range(20):
        assert local.invoke("ep", value) == [value * 2]
    replaced = wait_until(lambda: (p := local.pids("/ep/AllTraffic/")) and len(p) == 2 and p)
    assert pids[0] not in replaced and pids[1] in replaced


def test_updates_roll_without_failing_a_request(local: LocalServer) -> None:
    local.model("old", 2)
    local.model("new", 3)
    local.config("c-old", "old", count=1)
    local.config("c-new", "new", count=2)
    local.sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c-old")
    local.wait_in_service("ep")
    old_pids = local.pids("/ep/")
    with Traffic(local, "ep") as traffic:
        local.sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="c-new")
        local.wait_in_service("ep")
        wait_until(lambda: traffic.answers and traffic.answers[-1] == [3.0])
        local.sagemaker.update_endpoint_weights_and_capacities(
            EndpointName="ep",
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}],
        )
        local.wait_in_service("ep")
        wait_until(lambda: len(local.pids("/ep/")) == 3)
    assert traffic.failures == []
    assert {tuple(a) for a in traffic.answers} <= {(2.0,), (3.0,)}
    assert len(traffic.answers) > 20
    # The old model's worker drained and stopped.
    wait_until(lambda: not any(process_alive(p) for p in old_pids))


def test_experiment_start_and_stop_keep_serving(local: LocalServer) -> None:
    local.model("prod", 2)
    local.model("cand", 5)
    local.config("c", "prod", count=1)
    local.sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    local.wait_in_service("ep")
    with Traffic(local, "ep") as traffic:
        local.sagemaker.create_inference_experiment(
            Name="x", Type="ShadowMode", RoleArn="arn:aws:iam::123456789012:role/r",
            EndpointName="ep",
            ModelVariants=[model_variant("prod", "AllTraffic"), model_variant("cand", "shadow")],
            ShadowModeConfig={"SourceModelVariantName": "AllTraffic", "ShadowModelVariants": [
                {"ShadowModelVariantName": "shadow", "SamplingPercentage": 100}]},
        )  # fmt: skip
        wait_until(lambda: _status(local, "x") == "Running", timeout=60)
        assert local.pids("/ep/shadow/")
        local.sagemaker.stop_inference_experiment(
            Name="x", ModelVariantActions={"AllTraffic": "Remove", "shadow": "Promote"}
        )
        wait_until(lambda: _status(local, "x") == "Completed", timeout=60)
        wait_until(lambda: traffic.answers[-1] == [5.0])
    assert traffic.failures == []


def _status(local: LocalServer, name: str) -> str:
    status: str = local.sagemaker.describe_inference_experiment(Name=name)["Status"]
    return status


def test_delete_endpoint_stops_its_workers(local: LocalServer) -> None:
    local.model("m", 2)
    local.config("c", "m", count=2)
    local.sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    local.wait_in_service("ep")
    pids = local.pids()
    assert len(pids) == 2
    local.sagemaker.delete_endpoint(EndpointName="ep")
    # Not one more answer once DeleteEndpoint has returned, though its workers stop later.
    with pytest.raises(ClientError) as caught:
        local.invoke("ep", 1)
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "Endpoint ep of account 123456789012 not found." in str(caught.value)
    local.sagemaker.get_waiter("endpoint_deleted").wait(
        EndpointName="ep", WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    wait_until(lambda: not any(process_alive(p) for p in pids))
    # A new endpoint of the same name is another endpoint: it deploys and answers.
    local.sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    local.wait_in_service("ep")
    assert local.invoke("ep", 1) is not None


@pytest.mark.parametrize("ending", ["sigterm", "sigkill"])
def test_no_orphan_workers_however_the_server_ends(local: LocalServer, ending: str) -> None:
    local.model("m", 2)
    local.config("c", "m", count=2)
    local.sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    local.wait_in_service("ep")
    pids = local.pids()
    assert len(pids) == 2
    if ending == "sigterm":
        assert local.process.stop() == 0
    else:
        local.process.kill()
    # After SIGKILL the workers notice their parent is gone and exit by themselves.
    wait_until(lambda: not any(process_alive(p) for p in pids), timeout=10)


def test_workers_come_back_after_a_restart(local: LocalServer) -> None:
    local.model("m", 2)
    local.config("c", "m", count=1)
    local.sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    local.wait_in_service("ep")
    local.process.kill()
    local.process = ServerProcess(local.data_dir, port=local.process.port, extra_args=FAST).start()
    assert wait_until(lambda: _answers(local), timeout=30) == [8.0]


def _answers(local: LocalServer) -> Any:
    try:
        return local.invoke("ep", 4)
    except Exception:
        return None
