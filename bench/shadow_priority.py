"""What lowering shadow workers' CPU priority buys production on a shared machine (#16).

Two servers, nothing pinned, each with built-in workers: a light production model and a
CPU-heavy shadow (about 10 ms of CPU per request, copied at 100 %: it wants a whole core),
plus the same production model on an endpoint without a shadow. One server runs shadows at
production's priority (``--shadow-niceness 0``), the other at the default (+10). Each cell
is production's p99 against the no-shadow endpoint of the same server, interleaved; the
servers take turns, so only one is loaded at a time.

Usage: python -m bench.shadow_priority [--rate 150] [--rounds 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console
from tests.dataplane_support import model_archive

from bench.loadgen import interleaved
from shadowserve.cli.server_process import ServerProcess

console = Console(highlight=False)
BODY = json.dumps([0.5] * 100).encode()
LIGHT = textwrap.dedent("""
    def model_fn(model_dir):
        return 2

    def predict_fn(data, k):
        return [x * k for x in data]
""")
HEAVY = textwrap.dedent("""
    import time

    def model_fn(model_dir):
        return 3

    def predict_fn(data, k):
        started = time.process_time()
        while time.process_time() - started < 0.010:  # 10 ms of CPU per request
            pass
        return [x * k for x in data]
""")


def _server(root: Path, niceness: int) -> tuple[ServerProcess, str, str]:
    """A server with /endpoints/shadowed (an experiment copying to HEAVY at 100 %) and
    /endpoints/plain (the same production model, no shadow); their invocation URLs."""
    for name, source in (("light", LIGHT), ("heavy", HEAVY)):
        archive = root / "objects" / "models" / name / "model.tar.gz"
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.write_bytes(model_archive(source))
    server = ServerProcess(root, extra_args=["--shadow-niceness", str(niceness)]).start(60)
    sm: Any = boto3.client("sagemaker", endpoint_url=server.url, region_name="us-east-1",
                           aws_access_key_id="bench", aws_secret_access_key="bench")  # fmt: skip
    for name in ("light", "heavy"):
        sm.create_model(ModelName=name, PrimaryContainer={
            "Image": "any", "ModelDataUrl": f"s3://models/{name}/model.tar.gz"})  # fmt: skip
    for endpoint in ("shadowed", "plain"):
        sm.create_endpoint_config(EndpointConfigName=endpoint, ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "light", "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}])  # fmt: skip
        sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=endpoint, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
        )
    infrastructure = {"InfrastructureType": "RealTimeInference", "RealTimeInferenceConfig": {
        "InstanceType": "ml.m5.large", "InstanceCount": 1}}  # fmt: skip
    sm.create_inference_experiment(
        Name="x", Type="ShadowMode", RoleArn="arn:aws:iam::123456789012:role/r",
        EndpointName="shadowed", ModelVariants=[
            {"ModelName": "light", "VariantName": "AllTraffic",
             "InfrastructureConfig": infrastructure},
            {"ModelName": "heavy", "VariantName": "shadow",
             "InfrastructureConfig": infrastructure}],
        ShadowModeConfig={"SourceModelVariantName": "AllTraffic", "ShadowModelVariants": [
            {"ShadowModelVariantName": "shadow", "SamplingPercentage": 100}]},
    )  # fmt: skip
    while sm.describe_inference_experiment(Name="x")["Status"] != "Running":
        pass
    urls = [f"{server.url}/endpoints/{name}/invocations" for name in ("plain", "shadowed")]
    return server, urls[0], urls[1]


def run(rate: float, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        servers = {niceness: _server(Path(work) / f"nice{niceness}", niceness)
                   for niceness in (0, 10)}  # fmt: skip
        cells: dict[int, list[dict[str, float]]] = {niceness: [] for niceness in servers}
        try:
            for _ in range(rounds):
                for niceness, (_, plain, shadowed) in servers.items():
                    base, cell = interleaved(plain, shadowed, BODY, rate, 2.0, 2, 0.5)
                    b, c = base.summary(), cell.summary()
                    cells[niceness].append(
                        {
                            "base_p99_ms": b["p99_ms"],
                            "p99_ms": c["p99_ms"],
                            "ratio": c["p99_ms"] / max(b["p99_ms"], 1e-3),
                        }
                    )
        finally:
            for server, _, _ in servers.values():
                server.stop()
    summary = {}
    for niceness, found in cells.items():
        ratio = statistics.median(cell["ratio"] for cell in found)
        summary[niceness] = {"median_ratio": round(ratio, 2), "cells": found}
        shown = ", ".join(f"{c['p99_ms']:.2f}/{c['base_p99_ms']:.2f} ms" for c in found)
        console.print(f"shadow niceness {niceness:2}: production p99 with/without shadow "
                      f"median x{ratio:.2f}  ({shown})")  # fmt: skip
    return {"rate": rate, "rounds": rounds, "by_niceness": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=150.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    result = run(args.rate, args.rounds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "shadow_priority.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
