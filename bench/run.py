"""`make bench`: capacity, open-loop latency and overhead, the shadow isolation matrix,
capture cost, and the same isolation scenarios through nginx's mirror module, in one run.

Usage: python -m bench.run [--smoke] [--out DIR]. Loopback only; every load is bounded in
count and time; every process started is stopped by its pid.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console
from rich.table import Table

from bench.chart import isolation_chart
from bench.loadgen import alternated, open_loop
from bench.markdown import interval
from bench.paired import p99_difference, p99_ratio
from bench.processes import (
    Nginx,
    Stub,
    cpu_seconds,
    pinned,
    rss_mib,
    share_the_cores,
    wrk_capacity,
    wrk_capacity_and_cores,
)
from shadowserve.cli.server_process import ServerProcess, free_port

console = Console(highlight=False, width=150)
MODES = ("fast", "slow", "error", "hang")
SMALL = json.dumps([0.5] * 100).encode()  # about 1 KB
LARGE = json.dumps([0.5] * 200_000).encode()  # about 1 MB
# Offered rates are capped: above ~500 rps the generator and the stubs, sharing one core,
# start to lag (loadgen.LAG_LIMIT_MS), and the figures would describe them, not the gateway.
MAX_RATE = 500.0


@dataclass(frozen=True)
class Plan:
    capacity_seconds: int
    seconds: float  # measured seconds of a single run (nginx, capture)
    warmup: float
    rates: tuple[float, ...]
    samplings: tuple[int, ...]
    modes: tuple[str, ...]
    large_rate: float
    # A/B comparisons (gateway vs direct, shadow vs no shadow) alternate `repeats` runs of
    # `segment` seconds per side, so that drift on a shared host hits both sides alike.
    segment: float
    repeats: int
    # #16's headline cells (gateway vs direct, capture on vs off, isolation at 100 %
    # sampling) alternate this many pairs:
    # from two, resampling pairs gives an interval in name only (a fresh pinned gateway's
    # 1 KB capture read x0.75 to x1.26 from one two-pair cell to the next).
    headline_repeats: int
    # The full run measures the default; passes every 0.2 s, measured, add about 2 ms to
    # production p99, but make the smoke run's set-up (status waits) quicker.
    reconcile_interval: float


FULL = Plan(5, 4.0, 0.5, (0.25, 0.5, 0.75), (0, 10, 100), MODES, 20.0, 2.0, 2, 6, 1.0)
SMOKE = Plan(1, 1.0, 0.2, (0.5,), (100,), ("slow",), 5.0, 0.5, 1, 1, 0.2)
# --shared: nothing pinned; isolation at 100 % sampling only, in many short alternations, as
# the shared machine is noisier (bench/paired.py gives each ratio an interval). 32 pairs: at
# 16, one run's error/hang ratios (x0.75 / x1.22) lay outside the last run's intervals.
SHARED = Plan(5, 4.0, 0.1, (0.5,), (100,), ("slow", "error", "hang"), 20.0, 0.5, 32, 32, 1.0)


class Gateway:
    """A shadowserve server pinned to its own CPU (unless the run shares the cores), with
    stub-backed models."""

    def __init__(self, root: Path, stubs: dict[str, Stub], production: Stub, plan: Plan,
                 extra: list[str] | None = None,
                 wrapper: list[str] | None = None) -> None:  # fmt: skip
        args = ["--reconcile-interval", str(plan.reconcile_interval),
                "--capture-flush-seconds", "2", *(extra or [])]  # fmt: skip
        wrapper = [*pinned(1), *(wrapper or [])]
        self.server = ServerProcess(root, wrapper=wrapper, extra_args=args).start()
        assert self.server.process is not None
        self.pid = self.server.process.pid
        self.sm: Any = boto3.client(
            "sagemaker", endpoint_url=self.server.url, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",
        )  # fmt: skip
        self.sm.create_model(ModelName="production", PrimaryContainer={"Image": production.url})
        for mode, stub in stubs.items():
            self.sm.create_model(ModelName=f"shadow-{mode}", PrimaryContainer={"Image": stub.url})

    def endpoint(self, name: str, capture: bool = False, bucket: str = "bench-capture") -> str:
        config: dict[str, Any] = {
            "EndpointConfigName": name,
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "production",
                                    "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
        }  # fmt: skip
        if capture:
            config["DataCaptureConfig"] = {
                "InitialSamplingPercentage": 100, "DestinationS3Uri": f"s3://{bucket}/x",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                # JSON payloads are captured as JSON text, as SageMaker's examples set it up
                # (without the header every payload is base64).
                "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
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
        time.sleep(2.5)  # let the new pools and routing settle before measuring
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
        time.sleep(2)  # the next reconciler pass publishes the new sampling to routing

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

    def shadow_counts(self, endpoint: str = "bench") -> dict[str, float]:
        """Cumulative shadow counters of an endpoint, by outcome, from /metrics."""
        text = urllib.request.urlopen(f"{self.server.url}/metrics").read().decode()
        counts: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith(f'shadowserve_shadow_requests_total{{endpoint="{endpoint}"'):
                outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
                counts[outcome] = counts.get(outcome, 0) + float(line.rsplit(" ", 1)[1])
        return counts

    def measure(self, url: str, body: bytes, rate: float, plan: Plan) -> dict[str, Any]:
        with self._observed(rate * (plan.seconds + plan.warmup)) as extra:
            result = open_loop(url, body, rate, plan.seconds, plan.warmup).summary()
        return result | extra

    def measure_ab(self, baseline: str, url: str, body: bytes, rate: float,
                   plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
        """Interleaved runs of `baseline` and `url`; the gateway's CPU per request and
        memory cover both (for gateway vs direct, all of its work is on `url`'s side)."""
        gateway_requests = rate * (plan.segment + plan.warmup) * plan.repeats
        if self.server.url in baseline:
            gateway_requests *= 2
        with self._observed(gateway_requests) as extra:
            alternation = alternated(baseline, url, body, rate, plan.segment, plan.repeats,
                                     plan.warmup)  # fmt: skip
        first, second = alternation.merged()
        extra["p99_ratio"] = p99_ratio(alternation).as_json()
        extra["p99_difference"] = p99_difference(alternation).as_json()
        return first.summary(), second.summary() | extra

    @contextlib.contextmanager
    def _observed(self, requests: float) -> Iterator[dict[str, Any]]:
        extra: dict[str, Any] = {}
        cpu, rss = cpu_seconds(self.pid), rss_mib(self.pid)
        before = self.shadow_counts()
        yield extra
        extra["gateway_cpu_us_per_request"] = round(
            (cpu_seconds(self.pid) - cpu) / max(1.0, requests) * 1e6, 1
        )
        extra["rss_before_mib"], extra["rss_after_mib"] = rss, rss_mib(self.pid)
        after = self.shadow_counts()
        extra["shadow"] = {k: after.get(k, 0) - before.get(k, 0) for k in after}

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


def run(plan: Plan, out: Path, shared: bool = False) -> dict[str, Any]:
    """The whole method, the gateway and the generator pinned apart; ``shared``: only the
    shadow isolation cells, with every process free to share the cores (one self-hosted
    box, #16's configuration)."""
    if shared:
        share_the_cores()
    elif pinned(0):
        os.sched_setaffinity(0, {0})
    results: dict[str, Any] = {"machine": machine(), "plan": plan.__dict__, "started": time.time()}
    work = Path(tempfile.mkdtemp(prefix="shadowserve-bench-"))
    production = Stub("fast")
    shadows = {mode: Stub(mode) for mode in plan.modes}
    gateway = Gateway(work / "gateway", shadows, production, plan)
    try:
        url = gateway.endpoint("bench")
        baseline = gateway.endpoint("bench-base")
        capacity = _capacity(plan, gateway, url, production)
        results["capacity"] = capacity
        rate = _scaled(capacity["gateway_rps"]) * 0.5
        if not shared:
            results["latency"] = _latency(plan, gateway, url, production, capacity["gateway_rps"])
            results["target"] = _target(plan, gateway, production, rate)
        results["isolation"] = _isolation(plan, gateway, baseline, url, rate)
        results["capture"] = _capture(plan, gateway, rate)
        if not shared:
            results["nginx"] = _nginx(plan, work, production, shadows, rate)
            results["capture"].append(_capture_sink_down(plan, production, shadows, rate, work))
    finally:
        gateway.stop()
        for stub in [production, *shadows.values()]:
            stub.stop()
    results["finished"] = time.time()
    out.mkdir(parents=True, exist_ok=True)
    if shared:
        (out / "shared_machine.json").write_text(json.dumps(results, indent=2))
        console.print(f"\nResults: {out / 'shared_machine.json'}")
        return results
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    isolation_chart(results, out / "isolation.png")
    _print(results)
    console.print(f"\nResults: {out / 'latest.json'} and {out / 'isolation.png'}")
    return results


def _capacity(plan: Plan, gateway: Gateway, url: str, production: Stub) -> dict[str, Any]:
    """Closed-loop capacity, direct and through the gateway, and the gateway's requests per
    second per core it used (its CPU seconds over the run's seconds)."""
    console.print("[bold]Capacity[/] (wrk, closed loop, 32 connections)")
    direct = wrk_capacity(f"{production.url}/invocations", plan.capacity_seconds)
    through, cores = wrk_capacity_and_cores(url, plan.capacity_seconds, gateway.pid)
    per_core = through / max(cores, 1e-3)
    console.print(f"  direct {direct:.0f} rps, through shadowserve {through:.0f} rps, using "
                  f"{cores:.2f} cores: {per_core:.0f} rps per gateway core")  # fmt: skip
    return {"direct_rps": direct, "gateway_rps": through, "gateway_cores": round(cores, 2),
            "rps_per_gateway_core": round(per_core)}  # fmt: skip


def _latency(plan: Plan, gateway: Gateway, url: str, production: Stub,
             capacity: float) -> list[dict[str, Any]]:  # fmt: skip
    console.print("[bold]Latency[/] (open loop, gateway vs direct at the same rate, interleaved)")
    rows = []
    for fraction in plan.rates:
        rate = _scaled(capacity) * fraction
        row = _overhead_row(_headline(plan), gateway, url, production, rate)
        rows.append({"fraction": fraction, **row})
        console.print(
            f"  {fraction:.0%} of capacity ({rate:.0f} rps): overhead p50 "
            f"{row['overhead_p50_ms']} ms, p99 {row['overhead_p99_ms']} ms{_interval(row)}"
        )
    return rows


def _target(plan: Plan, gateway: Gateway, production: Stub, rate: float) -> dict[str, Any]:
    """The issue's target cell: 50 % of capacity, a fast shadow at 100 % sampling and
    capture on, gateway vs direct."""
    console.print(f"[bold]Target cell[/] (shadow 100 %, capture on, {rate:.0f} rps)")
    url = gateway.endpoint("bench-target", capture=True)
    experiment = gateway.start_shadow("bench-target", plan.modes[0], 100)
    try:
        row = _overhead_row(_headline(plan), gateway, url, production, rate)
    finally:
        gateway.stop_shadow(experiment, "bench-target")
    console.print(
        f"  overhead p50 {row['overhead_p50_ms']} ms, p99 {row['overhead_p99_ms']} ms"
        f"{_interval(row)}; gateway CPU {row['gateway']['gateway_cpu_us_per_request']} µs per "
        "request"
    )
    return row


def _overhead_row(plan: Plan, gateway: Gateway, url: str, production: Stub,
                  rate: float) -> dict[str, Any]:  # fmt: skip
    direct, through = gateway.measure_ab(f"{production.url}/invocations", url, SMALL, rate, plan)
    overhead = {f"overhead_{k}": round(through[k] - direct[k], 3)
                for k in ("p50_ms", "p90_ms", "p99_ms", "p999_ms")}  # fmt: skip
    return {"rate": rate, "direct": direct, "gateway": through, **overhead}


def _headline(plan: Plan) -> Plan:
    return replace(plan, repeats=plan.headline_repeats)


def _scaled(capacity: float) -> float:
    """The "capacity" the rates are fractions of: the measured one, or less, so that the
    highest fraction (75 %) stays within MAX_RATE."""
    return min(capacity, MAX_RATE / 0.75)


def _isolation(plan: Plan, gateway: Gateway, baseline: str, url: str,
               rate: float) -> list[dict[str, Any]]:  # fmt: skip
    """Each cell against an endpoint with no shadow on the same gateway, interleaved."""
    console.print(f"[bold]Shadow isolation[/] (open loop at {rate:.0f} rps, vs no shadow)")
    rows = []
    for mode in plan.modes:
        experiment = None
        for sampling in plan.samplings:
            if experiment is None:
                experiment = gateway.start_shadow("bench", mode, sampling)
            else:
                gateway.set_sampling(experiment, sampling)
            # #16's isolation target is at 100 % sampling: those cells get real intervals.
            cell_plan = _headline(plan) if sampling == 100 else plan
            base, cell = gateway.measure_ab(baseline, url, SMALL, rate, cell_plan)
            ratio = round(cell["p99_ms"] / max(base["p99_ms"], 1e-3), 3)
            row = {"system": "shadowserve", "sampling": sampling, "mode": mode, **cell,
                   "baseline": base, "p99_vs_baseline": ratio}  # fmt: skip
            rows.append(row)
            copies = row["shadow"]
            console.print(
                f"  {mode:5} {sampling:3}%: p99 {row['p99_ms']} ms (no shadow "
                f"{base['p99_ms']} ms, x{row['p99_vs_baseline']}{interval(row['p99_ratio'])}), "
                f"{row['achieved_rps']} rps, "
                f"errors {row['errors']}; shadow copies sent {copies.get('sent', 0):.0f}, "
                f"dropped {copies.get('dropped', 0):.0f}, timed out {copies.get('timeout', 0):.0f}"
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


def _capture(plan: Plan, gateway: Gateway, rate: float) -> list[dict[str, Any]]:
    """Capture on against off, interleaved on the same gateway: an endpoint without a shadow
    and one capturing every request (both legs' records, to the object store)."""
    console.print("[bold]Capture cost[/] (capture on vs off, interleaved)")
    captured = gateway.endpoint("bench-capture", capture=True)
    plain = f"{gateway.server.url}/endpoints/bench-base/invocations"
    rows = []
    for label, body, cell_rate in (("1 KB", SMALL, rate), ("1 MB", LARGE, plan.large_rate)):
        off, on = gateway.measure_ab(plain, captured, body, cell_rate, _headline(plan))
        ratio = on["p99_ratio"]
        rows.append({"payload": label, "capture": "off", **off})
        rows.append({"payload": label, "capture": "on", **on})
        console.print(
            f"  {label} at {cell_rate:.0f} rps: capture on p99 {on['p99_ms']} ms, off "
            f"{off['p99_ms']} ms (x{ratio['ratio']:.2f}, 90 % interval {ratio['low']:.2f} to "
            f"{ratio['high']:.2f}), errors {off['errors']} / {on['errors']}"
        )
    return rows


def _capture_sink_down(plan: Plan, production: Stub, shadows: dict[str, Stub], rate: float,
                       work: Path) -> dict[str, Any]:  # fmt: skip
    """Capture on with the object store unreachable: production must not notice."""
    down = Gateway(work / "sink-down", shadows, production, plan,
                   ["--s3-endpoint-url", f"http://127.0.0.1:{free_port()}"])  # fmt: skip
    try:
        url = down.endpoint("bench-capture", capture=True)
        row = {"payload": "1 KB", "capture": "sink down", **down.measure(url, SMALL, rate, plan)}
    finally:
        down.stop()
    console.print(f"  1 KB sink down: p99 {row['p99_ms']} ms, errors {row['errors']}")
    return row


def _print(results: dict[str, Any]) -> None:
    table = Table(title="Shadow isolation: production p99 (ms) and achieved rps")
    columns = ("shadow", "sampling", "shadowserve p99", "no shadow p99", "ratio",
               "shadowserve rps", "errors", "nginx p99", "nginx rps", "nginx errors")  # fmt: skip
    for column in columns:
        table.add_column(column)
    nginx = {(r["mode"], r["sampling"]): r for r in results["nginx"]}
    for row in results["isolation"]:
        peer = nginx.get((row["mode"], row["sampling"]), {})
        table.add_row(row["mode"], f"{row['sampling']}%", _flagged(row),
                      _flagged(row["baseline"]),
                      f"{row['p99_vs_baseline']}{interval(row.get('p99_ratio'))}",
                      str(row["achieved_rps"]), str(row["errors"]),
                      _flagged(peer) if peer else "—", str(peer.get("achieved_rps", "—")),
                      str(peer.get("errors", "—")))  # fmt: skip
    console.print(table)
    target = results["target"]
    console.print(
        f"Target cell (shadow 100 %, capture on, {target['rate']:.0f} rps): gateway overhead "
        f"p50 {target['overhead_p50_ms']} ms, p99 {target['overhead_p99_ms']} ms"
        f"{_interval(target)}"
    )


def _interval(row: dict[str, Any]) -> str:
    """The p99 overhead's 90 % interval."""
    return interval(row["gateway"].get("p99_difference"))


def _flagged(row: dict[str, Any]) -> str:
    """p99, marked when the generator lagged (the figure then overstates the latency)."""
    return f"{row['p99_ms']}" + ("" if row.get("valid", True) else " (lagged)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, to check the harness")
    parser.add_argument(
        "--shared",
        action="store_true",
        help="nothing pinned: shadow isolation on a machine everything shares",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    if args.shared:
        run(SHARED, args.out, shared=True)
    else:
        run(SMOKE if args.smoke else FULL, args.out)


if __name__ == "__main__":
    main()
