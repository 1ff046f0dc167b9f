"""The Ray runtime against local workers, side by side in one run, on a throwaway one-node
Ray cluster on loopback (the one the tests use):

* placement time: CreateEndpoint to InService, one and two instances, alternated;
* the data path: sequential InvokeEndpoint calls through each gateway to the same built-in
  model, in alternating blocks; with Ray placing the worker the call still goes gateway →
  worker over HTTP, so the two should agree within the noise the blocks show.

Usage: python -m bench.ray_runtime [--calls 2000] [--repeats 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
from rich.console import Console
from tests.dataplane_support import SCALING_MODEL, model_archive, moto_s3
from tests.ray_cluster import ray_cluster, ray_environment

from shadowserve.cli.server_process import ServerProcess

console = Console(highlight=False)
BLOCK = 100  # calls per block; blocks alternate between the runtimes


def _client(server: ServerProcess) -> Any:
    return boto3.client(
        "sagemaker", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
    )  # fmt: skip


def _deploy(server: ServerProcess, count: int) -> tuple[str, float]:
    """A new endpoint of ``count`` instances; seconds from CreateEndpoint to InService."""
    sagemaker = _client(server)
    name = f"ep-{uuid.uuid4().hex[:8]}"
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "model", "InitialInstanceCount": count,
         "InstanceType": "ml.m5.large"}])  # fmt: skip
    started = time.monotonic()
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 1200}
    )
    return name, time.monotonic() - started


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cut = statistics.quantiles(ordered, n=100)
    return {"p50_ms": cut[49], "p90_ms": cut[89], "p99_ms": cut[98], "n": len(ordered)}


def run(calls: int, repeats: int) -> dict[str, Any]:
    # The servers inherit these: Ray's loopback-only mode, and a key for moto's S3.
    os.environ.update(ray_environment())
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "bench")
    with ray_cluster() as address, moto_s3() as s3_url, tempfile.TemporaryDirectory() as work:
        s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")  # fmt: skip
        s3.create_bucket(Bucket="models")
        s3.put_object(Bucket="models", Key="model.tar.gz", Body=model_archive(SCALING_MODEL))
        common = ["--s3-endpoint-url", s3_url, "--reconcile-interval", "0.1"]
        servers = {
            "local": ServerProcess(Path(work) / "local", extra_args=common),
            "ray": ServerProcess(Path(work) / "ray", extra_args=[
                *common, "--runtime", "ray", "--ray-address", address,
                "--ray-node-dir", str(Path(work) / "node")]),
        }  # fmt: skip
        for server in servers.values():
            server.start(90)
        try:
            for server in servers.values():
                _client(server).create_model(ModelName="model", PrimaryContainer={
                    "Image": "sklearn:1", "ModelDataUrl": "s3://models/model.tar.gz"})  # fmt: skip
            placement: dict[str, dict[int, list[float]]] = {r: {1: [], 2: []} for r in servers}
            for _ in range(repeats):
                for count in (1, 2):
                    for runtime, server in servers.items():
                        name, seconds = _deploy(server, count)
                        placement[runtime][count].append(seconds)
                        _client(server).delete_endpoint(EndpointName=name)
            console.print("placement (CreateEndpoint → InService), median of", repeats)
            for runtime in servers:
                ones, twos = placement[runtime][1], placement[runtime][2]
                console.print(f"  {runtime:5}  1 instance {statistics.median(ones):5.2f} s"
                              f"   2 instances {statistics.median(twos):5.2f} s")  # fmt: skip
            latency = _data_path(servers, calls)
        finally:
            for server in servers.values():
                server.stop()
    ratio = {key: latency["ray"][key] / latency["local"][key]
             for key in ("p50_ms", "p90_ms", "p99_ms")}  # fmt: skip
    console.print(f"data path, {calls} sequential calls each, blocks of {BLOCK} alternated")
    for runtime, figures in latency.items():
        console.print(f"  {runtime:5}  p50 {figures['p50_ms']:.3f} ms  p90 {figures['p90_ms']:.3f}"
                      f" ms  p99 {figures['p99_ms']:.3f} ms")  # fmt: skip
    console.print("  ray / local: " + "  ".join(f"{k} x{v:.2f}" for k, v in ratio.items()))
    return {"placement_s": placement, "latency": latency, "ratio_ray_to_local": ratio,
            "calls": calls, "repeats": repeats}  # fmt: skip


def _data_path(servers: dict[str, ServerProcess], calls: int) -> dict[str, dict[str, float]]:
    endpoints = {runtime: _deploy(server, 1)[0] for runtime, server in servers.items()}
    samples: dict[str, list[float]] = {runtime: [] for runtime in servers}
    with httpx.Client() as client:
        urls = {runtime: f"{server.url}/endpoints/{endpoints[runtime]}/invocations"
                for runtime, server in servers.items()}  # fmt: skip
        for url in urls.values():  # warm up both
            for _ in range(50):
                _call(client, url)
        for _ in range(max(1, calls // BLOCK)):
            for runtime, url in urls.items():
                samples[runtime].extend(_call(client, url) for _ in range(BLOCK))
    return {runtime: _percentiles(found) for runtime, found in samples.items()}


def _call(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    response = client.post(url, content=b"[1, 2]", headers={"Content-Type": "application/json"})
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    result = run(args.calls, args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ray_runtime.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
