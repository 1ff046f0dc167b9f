"""The soak run of `make bench`: load held for minutes at a constant rate, with a shadow at
100 % sampling and capture on. Reports production errors, the gateway's resident memory and
open file descriptors over time, and whether every request's capture record was written.

Usage: python -m bench.soak [--seconds 180] [--rate 250] [--smoke] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rich.console import Console

from bench.loadgen import open_loop
from bench.processes import Stub, rss_mib
from bench.run import FULL, SMALL, SMOKE, Gateway, machine

console = Console(highlight=False, width=150)
SAMPLE_EVERY = 5.0  # seconds between memory / descriptor readings
BUCKET = "soak-capture"


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Sampler(threading.Thread):
    """Reads the gateway's RSS and descriptor count every few seconds while load runs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[dict[str, float]] = []
        self._stopping = threading.Event()
        self._start_time = time.monotonic()

    def run(self) -> None:
        while not self._stopping.is_set():
            elapsed = round(time.monotonic() - self._start_time, 1)
            self.samples.append(
                {"t": elapsed, "rss_mib": rss_mib(self.pid), "fds": open_fds(self.pid)}
            )
            self._stopping.wait(SAMPLE_EVERY)

    def stop(self) -> None:
        self._stopping.set()
        self.join(10)


def captured_production_records(data_dir: Path) -> tuple[int, int]:
    """Capture records of the production variant in the local object store, and how many
    distinct inference ids they carry."""
    records, ids = 0, set()
    for path in (data_dir / "objects" / BUCKET).rglob("*.jsonl"):
        if "/AllTraffic/" not in str(path):
            continue
        for line in path.read_text().splitlines():
            records += 1
            ids.add(json.loads(line)["eventMetadata"]["inferenceId"])
    return records, len(ids)


def soak(seconds: float, rate: float, out: Path, smoke: bool) -> dict[str, Any]:
    plan = SMOKE if smoke else FULL
    work = Path(tempfile.mkdtemp(prefix="shadowserve-soak-"))
    production, shadow = Stub("fast"), Stub("fast")
    gateway = Gateway(work / "gateway", {"fast": shadow}, production, plan)
    try:
        url = gateway.endpoint("soak", capture=True, bucket=BUCKET)
        gateway.start_shadow("soak", "fast", 100)
        console.print(f"[bold]Soak[/]: {rate:.0f} rps for {seconds:.0f} s, shadow at 100 %, "
                      "capture on")  # fmt: skip
        sampler = Sampler(gateway.pid)
        sampler.start()
        load = open_loop(url, SMALL, rate, seconds, warmup=0.0).summary()
        time.sleep(SAMPLE_EVERY)  # one reading after the load
        sampler.stop()
        shadow_copies = gateway.shadow_counts("soak")
    finally:
        gateway.stop()  # a graceful stop flushes every buffered capture record
        production.stop()
        shadow.stop()
    records, distinct = captured_production_records(gateway.server.data_dir)
    samples = sampler.samples
    result = {
        "machine": machine(), "seconds": seconds, "rate": rate, "load": load,
        "shadow": shadow_copies, "samples": samples,
        "capture": {"requests": load["sent"], "production_records": records,
                    "distinct_inference_ids": distinct},
        "rss_mib": _drift(samples, "rss_mib"), "fds": _drift(samples, "fds"),
    }  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(result, indent=2))
    _chart(samples, out / "soak.png")
    _print(result)
    return result


def _drift(samples: list[dict[str, float]], key: str) -> dict[str, float]:
    """First and last reading under load, and the peak."""
    values = [sample[key] for sample in samples]
    return {"first": values[0], "last": values[-1], "max": max(values)} if values else {}


def _chart(samples: list[dict[str, float]], path: Path) -> None:
    figure, (memory, descriptors) = plt.subplots(1, 2, figsize=(10, 3.5))
    times = [sample["t"] for sample in samples]
    memory.plot(times, [sample["rss_mib"] for sample in samples], color="#2563eb")
    memory.set_title("gateway resident memory (MiB)")
    memory.set_ylim(bottom=0)
    descriptors.plot(times, [sample["fds"] for sample in samples], color="#15803d")
    descriptors.set_title("gateway open file descriptors")
    descriptors.set_ylim(bottom=0)
    for axis in (memory, descriptors):
        axis.set_xlabel("seconds")
    figure.suptitle("Soak: shadow at 100 %, capture on")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _print(result: dict[str, Any]) -> None:
    load, capture = result["load"], result["capture"]
    complete = capture["production_records"] == capture["distinct_inference_ids"] == load["sent"]
    lines = [
        f"  requests {load['sent']} at {load['achieved_rps']} rps: production errors "
        f"{load['errors']}, p50 {load['p50_ms']} ms, p99 {load['p99_ms']} ms",
        f"  shadow copies: {result['shadow']}",
        f"  gateway RSS MiB first / last / max: {result['rss_mib']}",
        f"  gateway open fds first / last / max: {result['fds']}",
        f"  capture: {capture['production_records']} production records for "
        f"{load['sent']} requests ({'every one' if complete else 'MISSING RECORDS'})",
    ]
    console.print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--rate", type=float, default=250.0)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, to check it runs")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    seconds = 4.0 if args.smoke else args.seconds
    soak(seconds, args.rate, args.out, args.smoke)


if __name__ == "__main__":
    main()
