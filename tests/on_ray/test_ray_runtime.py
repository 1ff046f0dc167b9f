"""``--runtime ray`` end to end: a real Ray cluster (one node, on loopback), a real server
placing its instances there as actors, real workers started by those actors, boto3 over
HTTP. The gateway calls the workers directly; Ray only places and restarts them."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from botocore.exceptions import ClientError

from shadowserve.cli.server_process import ServerProcess, free_port
from tests.dataplane.test_framework_conventions import (
    OFFLINE_REQUIREMENTS,
    _log_lines,
    _sdk_style_model,
    _tar_gz,
)
from tests.dataplane_fixtures import Models
from tests.dataplane_support import process_alive, read_events, wait_until, worker_pids
from tests.on_ray.conftest import ray_server_args

Actors = Callable[..., list[str]]


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _pids(models: Models, endpoint: str) -> list[int]:
    return sorted(worker_pids(models.server.data_dir, endpoint))


def _answers_throughout(models: Models, endpoint: str, until: Callable[[], Any]) -> Any:
    """Invoke the endpoint again and again until ``until()`` holds; every call must answer."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body, response = models.invoke(endpoint, [1, 2])
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert body == [2.0, 4.0]
        found = until()
        if found:
            return found
    raise AssertionError("condition not met in time")


def test_instances_are_actors_placed_by_ray_and_answer_directly(
    models: Models, actors: Actors
) -> None:
    before = actors()
    endpoint = models.endpoint(models.model(), count=2)
    assert models.invoke(endpoint, [1, 2])[0] == [2.0, 4.0]
    mine = [name for name in actors() if name not in before]
    assert len(mine) == 2, mine  # one actor per instance, named for re-adoption
    described = models.sagemaker.describe_endpoint(EndpointName=endpoint)
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    pids = _pids(models, endpoint)
    assert len(pids) == 2
    # The worker is the actor's child (started on the node), not the gateway's.
    assert all(_parent(pid) != models.server.process.pid for pid in pids)  # type: ignore[union-attr]
    # Where each instance runs: /metrics, the dashboard's overview, the log stream.
    with urllib.request.urlopen(f"{models.server.url}/metrics") as response:
        metrics = response.read().decode()
    series = [line for line in metrics.splitlines()
              if line.startswith("shadowserve_instance_healthy{") and endpoint in line]  # fmt: skip
    assert len(series) == 2 and all('node="127.0.0.1"' in s and s.endswith(" 1.0") for s in series)
    with urllib.request.urlopen(f"{models.server.url}/api/overview") as response:
        overview = json.load(response)
    listed = next(e for e in overview["endpoints"] if e["name"] == endpoint)["instances"]
    assert [(i["variant"], i["node"], i["healthy"]) for i in listed] == [
        ("AllTraffic", "127.0.0.1", True)
    ] * 2
    lines = _log_lines(models, endpoint)
    assert any("on node 127.0.0.1" in line for line in lines), lines
    assert any("placing 2 instance(s) on Ray, each 2 CPUs, 8 GiB memory" in line
               for line in lines), lines  # fmt: skip


def test_an_experiment_mirrors_to_a_shadow_placed_by_ray(models: Models, actors: Actors) -> None:
    production = models.model()
    endpoint = models.endpoint(production)
    before = set(actors())
    experiment = models.experiment(endpoint, production, models.model(), sampling=100)
    assert len(set(actors()) - before) == 1  # the shadow's actor
    ids = [f"ray-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for inference_id in ids:
        models.invoke(endpoint, [1, 2], InferenceId=inference_id)

    def shadow_legs() -> list[dict[str, Any]]:
        events = read_events(models.events_path)
        return [e for e in events if e["inferenceId"] in ids and e["role"] == "shadow"]

    legs = wait_until(lambda: len(shadow_legs()) == 3 and shadow_legs(), timeout=60)
    assert {(leg["variant"], leg["status"], leg["experiment"]) for leg in legs} == {
        ("shadow", 200, experiment)
    }
    shadow_actor = set(actors()) - before
    models.sagemaker.stop_inference_experiment(
        Name=experiment, ModelVariantActions={"AllTraffic": "Retain", "shadow": "Remove"}
    )
    wait_until(lambda: not shadow_actor & set(actors()), timeout=60)  # removed with it
    assert models.invoke(endpoint, [1, 2])[0] == [2.0, 4.0]


def test_a_killed_worker_and_a_killed_actor_are_replaced_while_production_answers(
    models: Models,
) -> None:
    endpoint = models.endpoint(models.model(), count=2)
    first, second = _pids(models, endpoint)
    os.kill(first, signal.SIGKILL)  # the model server: its actor starts another
    pids = _answers_throughout(
        models, endpoint, lambda: len(p := _pids(models, endpoint)) == 2 and first not in p and p
    )
    assert second in pids
    replacement = next(pid for pid in pids if pid != second)
    actor = _parent(replacement)
    os.kill(actor, signal.SIGKILL)  # the actor's process: Ray starts the actor again
    _answers_throughout(models, endpoint, lambda: not process_alive(replacement))
    pids = _answers_throughout(
        models, endpoint,
        lambda: len(p := _pids(models, endpoint)) == 2 and replacement not in p and p,
    )  # fmt: skip
    assert second in pids and _parent(next(p for p in pids if p != second)) != actor
    wait_until(lambda: models.sagemaker.describe_endpoint(EndpointName=endpoint)[
        "ProductionVariants"][0]["CurrentInstanceCount"] == 2, timeout=60)  # fmt: skip


def test_delete_endpoint_leaves_no_actor_and_no_worker(models: Models, actors: Actors) -> None:
    before = set(actors())
    endpoint = models.endpoint(models.model(), count=2)
    mine = set(actors()) - before
    assert len(mine) == 2
    models.sagemaker.delete_endpoint(EndpointName=endpoint)
    wait_until(lambda: not mine & set(actors()), timeout=60)
    wait_until(lambda: not _pids(models, endpoint), timeout=60)


def test_two_endpoints_of_one_model_have_their_own_actors(models: Models, actors: Actors) -> None:
    model = models.model()
    before = set(actors())
    first = models.endpoint(model)
    second = models.endpoint(model)
    assert len(set(actors()) - before) == 2
    models.sagemaker.delete_endpoint(EndpointName=first)
    wait_until(lambda: len(set(actors()) - before) == 1, timeout=60)
    assert models.invoke(second, [1, 2])[0] == [2.0, 4.0]


def test_an_instance_ray_cannot_place_fails_the_endpoint_with_the_reason(
    models: Models, actors: Actors
) -> None:
    before = set(actors())
    endpoint = models.endpoint(models.model(), wait=False, InstanceType="ml.g5.xlarge")

    def failed() -> dict[str, Any] | None:
        described: dict[str, Any] = models.sagemaker.describe_endpoint(EndpointName=endpoint)
        return described if described["EndpointStatus"] == "Failed" else None

    reason = wait_until(failed, timeout=60)["FailureReason"]
    assert reason.startswith(
        "Variant AllTraffic: Ray cannot place an instance of ml.g5.xlarge "
        "(4 CPUs, 16 GiB memory, 1 GPU): its largest node has 32 CPUs"
    ), reason
    assert "0 GPUs" in reason and "SHADOWSERVE_INSTANCE_RESOURCES" in reason
    assert set(actors()) <= before  # nothing was left pending


def test_the_model_override_of_instance_resources_places_a_gpu_type_on_cpus(
    models: Models,
) -> None:
    overridden = models.model(environment={"SHADOWSERVE_INSTANCE_RESOURCES": '{"gpus": 0}'})
    endpoint = models.endpoint(overridden, InstanceType="ml.g5.xlarge")
    assert models.invoke(endpoint, [1, 2])[0] == [2.0, 4.0]


def test_requirements_are_installed_on_the_node_that_runs_the_model(models: Models) -> None:
    endpoint = models.endpoint(_sdk_style_model(models, OFFLINE_REQUIREMENTS))
    assert models.invoke(endpoint, [1, 2])[0] == {"toy": 42, "sum": 10}
    lines = _log_lines(models, endpoint)
    assert any("Successfully installed shadowtoy-1.0" in line for line in lines), lines
    node_environments = models.server.data_dir / "node" / "environments"
    assert any(path.is_dir() for path in node_environments.iterdir())
    assert not (models.server.data_dir / "environments").exists()  # not on the gateway
    # Cached on the node: the same requirements again build nothing.
    again = models.endpoint(_sdk_style_model(models, OFFLINE_REQUIREMENTS))
    assert models.invoke(again, [0])[0] == {"toy": 42, "sum": 1}
    assert any("using the environment built before" in line for line in _log_lines(models, again))


def test_an_update_rolls_out_blue_green_on_ray(models: Models, actors: Actors) -> None:
    before = set(actors())
    endpoint = models.endpoint(models.model())
    blue = set(actors()) - before
    tripling = models.model(environment={"SCALE": "3"})
    green = {"VariantName": "AllTraffic", "ModelName": tripling, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}  # fmt: skip
    models.sagemaker.create_endpoint_config(EndpointConfigName=f"{endpoint}-green",
                                            ProductionVariants=[green])  # fmt: skip
    models.sagemaker.update_endpoint(EndpointName=endpoint,
                                     EndpointConfigName=f"{endpoint}-green")  # fmt: skip
    answers: list[Any] = []

    def switched() -> bool:
        body, response = models.invoke(endpoint, [1, 2])
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
        answers.append(body)
        return bool(body == [3.0, 6.0])

    wait_until(switched, timeout=60)
    assert set(map(str, answers)) <= {"[2.0, 4.0]", "[3.0, 6.0]"}  # old or new, never none
    models.wait_in_service(endpoint)
    wait_until(lambda: not blue & set(actors()), timeout=60)  # blue's actor is gone


def test_every_port_of_the_cluster_and_its_workers_is_on_loopback(models: Models) -> None:
    endpoint = models.endpoint(models.model())
    assert models.invoke(endpoint, [1, 2])[0] == [2.0, 4.0]
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True,
                               check=True).stdout.splitlines()  # fmt: skip
    workers = [f"pid={pid}," for pid in _pids(models, endpoint)]
    ray_processes = ('"raylet"', '"gcs_server"', '"ray::')
    ours = [line for line in listening if any(mark in line for mark in (*ray_processes, *workers))]
    assert any(worker in line for line in ours for worker in workers)
    for line in ours:
        local = line.split()[3]
        assert local.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")), line


def test_a_torchscript_model_runs_on_cpu(models: Models) -> None:
    module = torch.nn.Linear(2, 1)
    with torch.no_grad():
        module.weight.copy_(torch.tensor([[2.0, 3.0]]))
        module.bias.fill_(1.0)
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buffer)
    name = f"m-{uuid.uuid4().hex[:10]}"
    models.s3.put_object(Bucket="models", Key=f"{name}/model.tar.gz",
                         Body=_tar_gz({"model.pt": buffer.getvalue()}))  # fmt: skip
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3-cpu-py311"
    models.sagemaker.create_model(ModelName=name, PrimaryContainer={
        "Image": image, "ModelDataUrl": f"s3://models/{name}/model.tar.gz"})  # fmt: skip
    endpoint = models.endpoint(name)
    assert models.invoke(endpoint, [[1.0, 1.0], [0.0, 2.0]])[0] == [[6.0], [7.0]]


def test_a_restarted_gateway_adopts_its_running_actors(
    tmp_path: Path, cluster: str, s3_url: str, actors: Actors
) -> None:
    namespace = f"adopt-{uuid.uuid4().hex[:6]}"
    args = ray_server_args(cluster, s3_url, tmp_path, namespace)
    with ServerProcess(tmp_path, extra_args=args) as server:
        models = Models(server, s3_url)
        endpoint = models.endpoint(models.model(), count=2)
        named, pids = actors(namespace), _pids(models, endpoint)
        assert len(named) == 2 and len(pids) == 2
    # The gateway is gone; its actors and their workers are not.
    assert actors(namespace) == named
    assert all(process_alive(pid) for pid in pids)
    with ServerProcess(tmp_path, extra_args=args) as server:
        models = Models(server, s3_url)
        wait_until(lambda: _answers(models, endpoint), timeout=60)
        assert actors(namespace) == named  # adopted, not started again
        assert _pids(models, endpoint) == pids
        models.sagemaker.delete_endpoint(EndpointName=endpoint)
        wait_until(lambda: actors(namespace) == [], timeout=60)


def test_a_ray_address_that_does_not_answer_stops_the_server_with_the_reason(
    tmp_path: Path,
) -> None:
    found = subprocess.run(
        [sys.executable, "-m", "shadowserve.cli", "serve", "--data-dir", str(tmp_path),
         "--port", "0", "--runtime", "ray", "--ray-address", f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert found.returncode == 1
    assert "cannot reach the Ray cluster at 127.0.0.1:" in found.stderr
    assert "Connection refused" in found.stderr and "Traceback" not in found.stderr


def _answers(models: Models, endpoint: str) -> bool:
    try:
        return bool(models.invoke(endpoint, [1, 2])[0] == [2.0, 4.0])
    except ClientError:
        return False


@pytest.fixture(autouse=True)
def _no_tracebacks(ray_server: ServerProcess) -> Iterator[None]:
    """The server's log stays free of tracebacks (a crash in supervision shows there)."""
    yield
    log = ray_server.log_path.read_text() if ray_server.log_path.exists() else ""
    assert "Traceback" not in log, log[-3000:]
