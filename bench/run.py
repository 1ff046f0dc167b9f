"""`make bench`: capacity, open-loop latency and overhead, the shadow isolation matrix,
capture cost, and the same isolation scenarios through nginx's mirror module, in one run.

Usage: python -m bench.run [--smoke] [--out DIR]. Loopback only; every load is bounded in
count and time; every process started is stopped by its pid.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console
from rich.table import Table

from bench.chart import isolation_chart
from bench.loadgen import open_loop
from bench.processes import Nginx, Stub, cpu_seconds, pinned, rss_mib, wrk_capacity
from shadowserve.cli.server_process import ServerProcess, free_port

console = Console(highlight=False)
MODES = ("fast", "slow", "error", "hang")
SMALL = json.dumps([0.5] * 100).encode()  # about 1 KB
LARGE = json.dumps([0.5] * 200_000).encode()  # about 1 MB
# Offered rates are capped: above ~500 rps the generator and the stubs, sharing one core,
# start to lag (loadgen.LAG_LIMIT_MS), and the figures would describe them, not the gateway.
MAX_RATE = 500.0


@dataclass(frozen=True)
class Plan:
    capacity_seconds: int
    seconds: float
    warmup: float
    rates: tuple[float, ...]
    samplings: tuple[int, ...]
    modes: tuple[str, ...]
    large_rate: float


FULL = Plan(5, 8.0, 1.0, (0.25, 0.5, 0.75), (0, 10, 100), MODES, 20.0)
SMOKE = Plan(1, 1.0, 0.2, (0.5,), (100,), ("slow",), 5.0)


class Gateway:
    """A shadowserve server pinned to its own CPU, with stub-backed models."""

    def __init__(self, root: Path, stubs: dict[str, Stub], production: Stub,
                 extra: list[str] | None = None) -> None:  # fmt: skip
        args = ["--reconcile-interval", "0.2", "--capture-flush-seconds", "2", *(extra or [])]
        self.server = ServerProcess(root, wrapper=pinned(1), extra_args=args).start()
        assert self.server.process is not None
        self.pid = self.server.process.pid
        self.sm: Any = boto3.client(
            "sagemaker", endpoint_url=self.server.url, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",
        )  # fmt: skip
        self.sm.create_model(ModelName="production", PrimaryContainer={"Image": production.url})
        for mode, stub in stubs.items():
            self.sm.create_model(ModelName=f"shadow-{mode}", PrimaryContainer={"Image": stub.url})

    def endpoint(self, name: str, capture: bool = False) -> str:
        config: dict[str, Any] = {
            "EndpointConfigName": name,
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "production",
                                    "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
        }  # fmt: skip
        if capture:
            config["DataCaptureConfig"] = {
                "InitialSamplingPercentage": 100, "DestinationS3Uri": "s3://bench-capture/x",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            }  # fmt: skip
        self.sm.create_endpoint_config(**config)
        self.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        self.sm.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
        )
        return f"{self.server.url}/endpoints/{name}/invocations"

    def start_shadow(self, endpoint: str, mode: str, sampling: int) -> str:
        name = f"shadow-{mode}-{int(time.time() * 1000) % 10**8}"
        infra = {
            "InfrastructureType": "RealTimeInference",
            "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        }
        self.sm.create_inference_experiment(
            Name=name, Type="ShadowMode", RoleArn="arn:aws:iam::123456789012:role/bench",
            EndpointName=endpoint,
            ModelVariants=[
                {"ModelName": "production", "VariantName": "AllTraffic",
                 "InfrastructureConfig": infra},
                {"ModelName": f"shadow-{mode}", "VariantName": "shadow",
                 "InfrastructureConfig": infra}],
            ShadowModeConfig={"SourceModelVariantName": "AllTraffic", "ShadowModelVariants": [
                {"ShadowModelVariantName": "shadow", "SamplingPercentage": sampling}]},
        )  # fmt: skip
        self._wait(name, "Running")
        time.sleep(2)  # let the new pools and routing settle before measuring
        return name

    def set_sampling(self, name: str, sampling: int) -> None:
        self.sm.update_inference_experiment(
            Name=name,
            ShadowModeConfig={
                "SourceModelVariantName": "AllTraffic",
                "ShadowModelVariants": [
                    {"ShadowModelVariantName": "shadow", "SamplingPercentage": sampling}
                ],
            },
        )
        self._wait(name, "Running")
        time.sleep(1)  # the next reconciler pass publishes the new sampling to routing

    def stop_shadow(self, name: str, endpoint: str) -> None:
        self.sm.stop_inference_experiment(Name=name, ModelVariantActions={"shadow": "Remove"})
        self._wait(name, "Completed")
        self.sm.get_waiter("endpoint_in_service").wait(
            EndpointName=endpoint, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
        )

    def _wait(self, name: str, status: str) -> None:
        for _ in range(600):
            if self.sm.describe_inference_experiment(Name=name)["Status"] == status:
                return
            time.sleep(0.1)
        raise TimeoutError(f"{name} never reached {status}")

    def shadow_counts(self) -> dict[str, float]:
        """Cumulative shadow counters of the bench endpoint, by outcome, from /metrics."""
        text = urllib.request.urlopen(f"{self.server.url}/metrics").read().decode()
        counts: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith('shadowserve_shadow_requests_total{endpoint="bench"'):
                outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
                counts[outcome] = counts.get(outcome, 0) + float(line.rsplit(" ", 1)[1])
        return counts

    def measure(self, url: str, body: bytes, rate: float, plan: Plan) -> dict[str, Any]:
        cpu, rss = cpu_seconds(self.pid), rss_mib(self.pid)
        before = self.shadow_counts()
        result = open_loop(url, body, rate, plan.seconds, plan.warmup).summary()
        requests = max(1, int(rate * (plan.seconds + plan.warmup)))
        result["gateway_cpu_us_per_request"] = round(
            (cpu_seconds(self.pid) - cpu) / requests * 1e6, 1
        )
        result["rss_before_mib"], result["rss_after_mib"] = rss, rss_mib(self.pid)
        after = self.shadow_counts()
        result["shadow"] = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        return result

    def stop(self) -> None:
        self.server.stop()


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(int(memory) / 2**20, 1),
        "kernel": platform.release(), "python": platform.python_version(),
        "shadowserve": version("shadowserve"), "uvicorn": version("uvicorn"),
        "httpx": version("httpx"), "pinned": bool(pinned(1)),
    }  # fmt: skip


def run(plan: Plan, out: Path) -> dict[str, Any]:
    os.sched_setaffinity(0, {0}) if pinned(0) else None
    results: dict[str, Any] = {"machine": machine(), "plan": plan.__dict__, "started": time.time()}
    work = Path(tempfile.mkdtemp(prefix="shadowserve-bench-"))
    production = Stub("fast")
    shadows = {mode: Stub(mode) for mode in plan.modes}
    gateway = Gateway(work / "gateway", shadows, production)
    try:
        url = gateway.endpoint("bench")
        capacity = _capacity(plan, url, production)
        results["capacity"] = capacity
        rate = _scaled(capacity["gateway_rps"]) * 0.5
        results["latency"] = _latency(plan, gateway, url, production, capacity["gateway_rps"])
        results["isolation"] = _isolation(plan, gateway, url, rate)
        results["nginx"] = _nginx(plan, work, production, shadows, rate)
        results["capture"] = _capture(plan, gateway, production, shadows, rate, work)
    finally:
        gateway.stop()
        for stub in [production, *shadows.values()]:
            stub.stop()
    results["finished"] = time.time()
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    isolation_chart(results, out / "isolation.png")
    _print(results)
    console.print(f"\nResults: {out / 'latest.json'} and {out / 'isolation.png'}")
    return results


def _capacity(plan: Plan, url: str, production: Stub) -> dict[str, Any]:
    console.print("[bold]Capacity[/] (wrk, closed loop, 32 connections)")
    direct = wrk_capacity(f"{production.url}/invocations", plan.capacity_seconds)
    gateway = wrk_capacity(url, plan.capacity_seconds)
    console.print(f"  direct {direct:.0f} rps, through shadowserve {gateway:.0f} rps")
    return {"direct_rps": direct, "gateway_rps": gateway}


def _latency(plan: Plan, gateway: Gateway, url: str, production: Stub,
             capacity: float) -> list[dict[str, Any]]:  # fmt: skip
    console.print("[bold]Latency[/] (open loop, gateway vs direct at the same rate)")
    rows = []
    for fraction in plan.rates:
        rate = _scaled(capacity) * fraction
        # Interleaved: direct, then gateway, at the same rate.
        direct = open_loop(f"{production.url}/invocations", SMALL, rate, plan.seconds,
                           plan.warmup).summary()  # fmt: skip
        through = gateway.measure(url, SMALL, rate, plan)
        overhead = {f"overhead_{k}": round(through[k] - direct[k], 3)
                    for k in ("p50_ms", "p90_ms", "p99_ms", "p999_ms")}  # fmt: skip
        rows.append({"fraction": fraction, "rate": rate, "direct": direct, "gateway": through,
                     **overhead})  # fmt: skip
        console.print(
            f"  {fraction:.0%} of capacity ({rate:.0f} rps): overhead p50 "
            f"{overhead['overhead_p50_ms']} ms, p99 {overhead['overhead_p99_ms']} ms"
        )
    return rows


def _scaled(capacity: float) -> float:
    """The "capacity" the rates are fractions of: the measured one, or less, so that the
    highest fraction (75 %) stays within MAX_RATE."""
    return min(capacity, MAX_RATE / 0.75)


def _isolation(plan: Plan, gateway: Gateway, url: str, rate: float) -> list[dict[str, Any]]:
    console.print(f"[bold]Shadow isolation[/] (open loop at {rate:.0f} rps)")
    rows = [{"system": "shadowserve", "sampling": 0, "mode": "none",
             **gateway.measure(url, SMALL, rate, plan)}]  # fmt: skip
    for mode in plan.modes:
        experiment = None
        for sampling in plan.samplings:
            if experiment is None:
                experiment = gateway.start_shadow("bench", mode, sampling)
            else:
                gateway.set_sampling(experiment, sampling)
            row = {"system": "shadowserve", "sampling": sampling, "mode": mode,
                   **gateway.measure(url, SMALL, rate, plan)}  # fmt: skip
            rows.append(row)
            copies = row["shadow"]
            console.print(
                f"  {mode:5} {sampling:3}%: p99 {row['p99_ms']} ms, "
                f"{row['achieved_rps']} rps, errors {row['errors']}; shadow copies sent "
                f"{copies.get('sent', 0):.0f}, dropped {copies.get('dropped', 0):.0f}, "
                f"timed out {copies.get('timeout', 0):.0f}"
            )
        if experiment is not None:
            gateway.stop_shadow(experiment, "bench")
    return rows


def _nginx(plan: Plan, work: Path, production: Stub, shadows: dict[str, Stub],
           rate: float) -> list[dict[str, Any]]:  # fmt: skip
    console.print(f"[bold]nginx mirror[/] (same stubs, open loop at {rate:.0f} rps)")
    rows = []
    for mode in plan.modes:
        for sampling in plan.samplings:
            nginx = Nginx(work / f"nginx-{mode}-{sampling}", production.port,
                          shadows[mode].port, sampling)  # fmt: skip
            try:
                result = open_loop(nginx.url, SMALL, rate, plan.seconds, plan.warmup).summary()
            finally:
                nginx.stop()
            rows.append({"system": "nginx", "sampling": sampling, "mode": mode, **result})
            console.print(
                f"  {mode:5} {sampling:3}%: p99 {result['p99_ms']} ms, "
                f"{result['achieved_rps']} rps, errors {result['errors']}"
            )
    return rows


def _capture(plan: Plan, gateway: Gateway, production: Stub, shadows: dict[str, Stub],
             rate: float, work: Path) -> list[dict[str, Any]]:  # fmt: skip
    console.print("[bold]Capture cost[/]")
    captured = gateway.endpoint("bench-capture", capture=True)
    plain = f"{gateway.server.url}/endpoints/bench/invocations"
    rows = []
    for label, body, cell_rate in (("1 KB", SMALL, rate), ("1 MB", LARGE, plan.large_rate)):
        for capture, url in (("off", plain), ("on", captured)):
            row = {"payload": label, "capture": capture,
                   **gateway.measure(url, body, cell_rate, plan)}  # fmt: skip
            rows.append(row)
            console.print(
                f"  {label} capture {capture:3}: p99 {row['p99_ms']} ms at "
                f"{cell_rate:.0f} rps, errors {row['errors']}"
            )
    down = Gateway(work / "sink-down", shadows, production,
                   ["--s3-endpoint-url", f"http://127.0.0.1:{free_port()}"])  # fmt: skip
    try:
        url = down.endpoint("bench-capture", capture=True)
        row = {"payload": "1 KB", "capture": "sink down", **down.measure(url, SMALL, rate, plan)}
        rows.append(row)
        console.print(f"  1 KB sink down: p99 {row['p99_ms']} ms, errors {row['errors']}")
    finally:
        down.stop()
    return rows


def _print(results: dict[str, Any]) -> None:
    table = Table(title="Shadow isolation: production p99 (ms) and achieved rps")
    for column in (
        "shadow",
        "sampling",
        "shadowserve p99",
        "shadowserve rps",
        "nginx p99",
        "nginx rps",
    ):
        table.add_column(column)
    nginx = {(r["mode"], r["sampling"]): r for r in results["nginx"]}
    for row in results["isolation"]:
        peer = nginx.get((row["mode"], row["sampling"]), {})
        table.add_row(row["mode"], f"{row['sampling']}%", _flagged(row),
                      str(row["achieved_rps"]), _flagged(peer) if peer else "—",
                      str(peer.get("achieved_rps", "—")))  # fmt: skip
    console.print(table)


def _flagged(row: dict[str, Any]) -> str:
    """p99, marked when the generator lagged (the figure then overstates the latency)."""
    return f"{row['p99_ms']}" + ("" if row.get("valid", True) else " (lagged)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, to check the harness")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    run(SMOKE if args.smoke else FULL, args.out)


if __name__ == "__main__":
    main()
