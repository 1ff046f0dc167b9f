"""Capacity of two gateways on one PostgreSQL against one, side by side in one run: wrk at
full speed against one gateway, then against both at once (one wrk each), alternated
``--repeats`` times. Same machine, unpinned: on 2 cores the gateways, the stub model, wrk and
PostgreSQL share them, so the ratio says what a second gateway buys on one box, not on two.

Usage: python -m bench.cluster_capacity [--seconds 4] [--repeats 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console
from tests.dataplane_support import moto_s3
from tests.postgres import postgres_server  # the same throwaway servers the tests use

from bench.processes import Stub, wrk_capacity
from shadowserve.cli.server_process import ServerProcess

console = Console(highlight=False)


def _endpoint(server: ServerProcess, production: Stub) -> str:
    sagemaker: Any = boto3.client(
        "sagemaker", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
    )  # fmt: skip
    sagemaker.create_model(ModelName="production", PrimaryContainer={"Image": production.url})
    sagemaker.create_endpoint_config(EndpointConfigName="ep", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "production", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}])  # fmt: skip
    sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="ep")
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName="ep", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    return "/endpoints/ep/invocations"


def run(seconds: int, repeats: int) -> dict[str, Any]:
    with postgres_server() as db, moto_s3() as s3, tempfile.TemporaryDirectory() as work:
        production = Stub("fast")
        servers = [
            ServerProcess(Path(work) / name, extra_args=["--db", db, "--s3-endpoint-url", s3,
                                                         "--gateway-id", name]).start(90)
            for name in ("gw-a", "gw-b")
        ]  # fmt: skip
        try:
            path = _endpoint(servers[0], production)
            urls = [f"{server.url}{path}" for server in servers]
            for url in urls:  # both route it (the follower from the leader's snapshot)
                wrk_capacity(url, 1)
            one, two = [], []
            with ThreadPoolExecutor(2) as pool:
                for _ in range(repeats):
                    one.append(wrk_capacity(urls[0], seconds))
                    both = pool.map(lambda url: wrk_capacity(url, seconds, connections=16), urls)
                    two.append(sum(both))
        finally:
            for server in servers:
                server.stop()
            production.stop()
    return {
        "one_gateway_rps": statistics.median(one),
        "two_gateways_rps": statistics.median(two),
        "ratio": statistics.median(two) / statistics.median(one),
        "runs": {"one": one, "two": two},
        "cores": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    figures = run(args.seconds, args.repeats)
    console.print(
        f"Capacity on one PostgreSQL, {figures['cores']} cores shared: one gateway "
        f"{figures['one_gateway_rps']:.0f} rps, two gateways {figures['two_gateways_rps']:.0f} "
        f"rps (x{figures['ratio']:.2f}; medians of {args.repeats} alternated runs)"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cluster_capacity.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
