"""Several real `shadowserve serve` processes on one throwaway PostgreSQL (loopback): they
start together on an empty database, count traffic spread over all of them exactly, and run
each Cloud Control request once however many gateways see it. Each test is a fault that
two gateways once produced (../docs/reliability.md, "Several gateways")."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import create_engine, text

from shadowserve.cli.server_process import ServerProcess
from shadowserve.dataplane.sampling import is_sampled
from tests.builders import create_endpoint, create_model
from tests.conftest import FAST, client
from tests.dataplane_fixtures import Models
from tests.dataplane_support import read_events, wait_until, worker_pids
from tests.postgres import postgres_server


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def gateways(
    tmp_path_factory: pytest.TempPathFactory, database: str, s3_url: str
) -> Iterator[list[ServerProcess]]:
    """Two gateways started at the same moment on one empty PostgreSQL database, sharing
    one S3 (moto)."""
    base = tmp_path_factory.mktemp("cluster")
    servers = [
        ServerProcess(base / name, extra_args=[*FAST, "--db", database, "--gateway-id", name,
                                               "--s3-endpoint-url", s3_url,
                                               "--event-log", str(base / name / "events.jsonl")])
        for name in ("gw-a", "gw-b")
    ]  # fmt: skip
    # Both start (and migrate the empty database) at once; neither may die in it.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda server: server.start(timeout=90), servers))
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_both_gateways_came_up_on_the_empty_database(gateways: list[ServerProcess]) -> None:
    for server in gateways:
        assert server.process is not None and server.process.poll() is None
        log = Path(server.log_path).read_text()
        assert "Traceback" not in log, log
        health = httpx.get(f"{server.url}/healthz").json()
        assert health["gateways"] == ["gw-a", "gw-b"]
        assert health["gateway"] == server.extra_args[server.extra_args.index("--gateway-id") + 1]
        assert f'shadowserve_gateway_info{{gateway="{health["gateway"]}"}} 1.0' in httpx.get(
            f"{server.url}/metrics").text  # fmt: skip


def test_a_gateway_on_a_local_object_store_is_refused(
    gateways: list[ServerProcess], database: str, tmp_path: Path
) -> None:
    assert len(gateways) == 2
    refused = subprocess.run(
        [sys.executable, "-m", "shadowserve.cli", "serve", "--port", "0", "--data-dir",
         str(tmp_path), "--db", database, "--gateway-id", "gw-local"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "Error: Other servers share this database: gw-a (seen" in refused.stderr
    assert "Start every server with --s3-endpoint-url" in refused.stderr
    assert "Traceback" not in refused.stderr
    health = httpx.get(f"{gateways[0].url}/healthz").json()
    assert health["gateways"] == ["gw-a", "gw-b"]  # the refused one left no trace


def _invocations(cloudwatch: Any, endpoint: str) -> float:
    now = dt.datetime.now(dt.UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="Invocations", Period=3600, Statistics=["Sum"],
        Dimensions=[{"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": "AllTraffic"}],
        StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5),
    )["Datapoints"]  # fmt: skip
    return float(sum(point["Sum"] for point in points))


def test_traffic_spread_over_both_gateways_is_counted_exactly(
    gateways: list[ServerProcess],
) -> None:
    sagemaker = client(gateways[0].url)
    name = f"spread-{uuid.uuid4().hex[:6]}"
    create_model(sagemaker, name)
    create_endpoint(sagemaker, name, name)
    runtimes = [client(server.url, "sagemaker-runtime") for server in gateways]
    for runtime in runtimes:  # each gateway routes it: one answered probe each
        wait_until(lambda runtime=runtime: _serves(runtime, name), timeout=60)
    sent = 200

    def invoke(index: int) -> None:
        runtimes[index % 2].invoke_endpoint(EndpointName=name, Body=b"1", ContentType="text/csv")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(invoke, range(sent)))
    # Both gateways flush the same 10-second intervals, each to its own rows, and every read
    # sums them. (Two flushes colliding is rare at this rate: the race itself is proven in
    # tests/contract/test_sql_schema.py, with the aggregator's flush in a tight loop.)
    for server in gateways:
        cloudwatch = client(server.url, "cloudwatch")
        wait_until(lambda cw=cloudwatch: _invocations(cw, name) >= sent + 2, timeout=30)
        assert _invocations(cloudwatch, name) == sent + 2


def _serves(runtime: Any, endpoint: str) -> bool:
    try:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"1", ContentType="text/csv")
    except Exception:  # not routed there yet
        return False
    return True


NAMELESS_MODEL = json.dumps({"PrimaryContainer": {"Image": "example.com/model:1"}})


def test_cloud_control_creates_each_resource_once_with_two_workers(
    gateways: list[ServerProcess],
) -> None:
    ccs = [client(server.url, "cloudcontrol") for server in gateways]
    tokens = [
        ccs[index % 2].create_resource(TypeName="AWS::SageMaker::Model",
                                       DesiredState=NAMELESS_MODEL)["ProgressEvent"]["RequestToken"]
        for index in range(20)
    ]  # fmt: skip

    def finished() -> list[dict[str, Any]] | None:
        events = [ccs[0].get_resource_request_status(RequestToken=t)["ProgressEvent"]
                  for t in tokens]  # fmt: skip
        done = all(e["OperationStatus"] in ("SUCCESS", "FAILED") for e in events)
        return events if done else None

    events = wait_until(finished, timeout=60)
    assert [e["OperationStatus"] for e in events] == ["SUCCESS"] * 20
    made = {json.loads(e["ResourceModel"])["ModelName"] for e in events}
    sagemaker = client(gateways[0].url)
    listed = {m["ModelName"] for page in sagemaker.get_paginator("list_models").paginate(
        NameContains="Model-") for m in page["Models"]}  # fmt: skip
    assert made <= listed and len(made) == 20
    assert len(listed) == 20  # no second resource from a second worker


def test_a_client_token_sent_to_both_gateways_at_once_makes_one_request(
    gateways: list[ServerProcess],
) -> None:
    ccs = [client(server.url, "cloudcontrol") for server in gateways]
    for _ in range(10):
        token = str(uuid.uuid4())
        desired = json.dumps({"ModelName": f"tok-{token[:8]}",
                              "PrimaryContainer": {"Image": "example.com/model:1"}})  # fmt: skip
        barrier = threading.Barrier(2)

        def send(cc: Any, token: str = token, desired: str = desired,
                 barrier: threading.Barrier = barrier) -> str:  # fmt: skip
            barrier.wait()
            event = cc.create_resource(TypeName="AWS::SageMaker::Model",
                                       DesiredState=desired, ClientToken=token)  # fmt: skip
            return str(event["ProgressEvent"]["RequestToken"])

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(send, ccs))
        assert answers[0] == answers[1]


def _leader_and_follower(gateways: list[ServerProcess]) -> tuple[ServerProcess, ServerProcess]:
    def leads(server: ServerProcess) -> bool:
        return bool(httpx.get(f"{server.url}/healthz").json()["leads"])

    wait_until(lambda: any(leads(server) for server in gateways), timeout=30)
    leader = next(server for server in gateways if leads(server))
    follower = next(server for server in gateways if server is not leader)
    assert not leads(follower)
    return leader, follower


def _answers(server: ServerProcess, endpoint: str) -> bool:
    runtime = client(server.url, "sagemaker-runtime")
    try:
        answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=b"[1]",
                                         ContentType="application/json")  # fmt: skip
    except ClientError:
        return False
    return bool(json.loads(answer["Body"].read()) == [2.0])


def _not_found(server: ServerProcess, endpoint: str) -> bool:
    runtime = client(server.url, "sagemaker-runtime")
    try:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"[1]", ContentType="application/json")
    except ClientError as exc:
        return exc.response["Error"]["Code"] == "ValidationError"
    return False


def test_one_leader_runs_the_workers_and_every_gateway_routes_to_them(
    gateways: list[ServerProcess], s3_url: str
) -> None:
    leader, follower = _leader_and_follower(gateways)
    models = Models(follower, s3_url)  # asked of the follower; done by the leader
    endpoint = models.endpoint(models.model(), count=2)
    for server in gateways:
        wait_until(lambda server=server: _answers(server, endpoint), timeout=30)
    workers = [worker_pids(server.data_dir) for server in gateways]
    assert (len(workers[gateways.index(leader)]), len(workers[gateways.index(follower)])) == (2, 0)
    assert models.sagemaker.describe_endpoint(EndpointName=endpoint)["ProductionVariants"][0][
        "CurrentInstanceCount"] == 2  # fmt: skip
    # Deleted through the follower: within seconds no gateway answers for it, no worker is left.
    models.sagemaker.delete_endpoint(EndpointName=endpoint)
    for server in gateways:
        wait_until(lambda server=server: _not_found(server, endpoint), timeout=15)
    wait_until(lambda: not worker_pids(leader.data_dir), timeout=30)


def test_a_killed_route_feed_heals_by_resync(gateways: list[ServerProcess], database: str,
                                              s3_url: str) -> None:  # fmt: skip
    leader, follower = _leader_and_follower(gateways)
    gateway = follower.extra_args[follower.extra_args.index("--gateway-id") + 1]
    engine = create_engine(database, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        killed = connection.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = :name"), {"name": f"shadowserve-routes-{gateway}"},
        ).scalar()  # fmt: skip
    engine.dispose()
    assert killed == 1
    models = Models(leader, s3_url)
    endpoint = models.endpoint(models.model())
    wait_until(lambda: _answers(follower, endpoint), timeout=20)
    assert "route feed lost" in Path(follower.log_path).read_text()
    models.sagemaker.delete_endpoint(EndpointName=endpoint)
    wait_until(lambda: _not_found(follower, endpoint), timeout=15)


def test_a_sampling_change_reaches_every_gateway(
    gateways: list[ServerProcess], s3_url: str
) -> None:
    leader, follower = _leader_and_follower(gateways)
    models = Models(follower, s3_url)
    production, candidate = models.model(), models.model()
    endpoint = models.endpoint(production)
    experiment = models.experiment(endpoint, production, candidate, sampling=1)
    # An InferenceId decides sampling deterministically: this one is never in a 1 % sample.
    unsampled = next(f"id-{i}" for i in range(1000) if not is_sampled(1, f"id-{i}"))
    runtime = client(follower.url, "sagemaker-runtime")

    def mirrored_by_the_follower() -> bool:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"[1]",
                                ContentType="application/json", InferenceId=unsampled)  # fmt: skip
        return any(event["role"] == "shadow" and event["inferenceId"] == unsampled
                   for event in read_events(follower.data_dir / "events.jsonl"))  # fmt: skip

    wait_until(lambda: _answers(follower, endpoint), timeout=30)
    assert not mirrored_by_the_follower()
    Models(leader, s3_url).sagemaker.update_inference_experiment(
        Name=experiment,
        ShadowModeConfig={"SourceModelVariantName": "AllTraffic", "ShadowModelVariants": [
            {"ShadowModelVariantName": "shadow", "SamplingPercentage": 100}]},
    )  # fmt: skip
    wait_until(mirrored_by_the_follower, timeout=20)
