"""What shedding shadow copies on a saturated gateway buys (#16), side by side in one run.

Two gateways, nothing pinned, the same stubs: one never sheds (``--shadow-shed-lag-ms 0``),
the other at the default. Each has an endpoint copying to a fast shadow at 100 %. wrk
saturates each in turn (closed loop, 32 connections, alternated ``--repeats`` times):
requests per second, the gateway's cores, and how many copies were sent and shed. Then
each takes 50 % load (333 rps open loop) to show that an unsaturated gateway sheds nothing.

Usage: python -m bench.shedding [--seconds 4] [--repeats 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.loadgen import open_loop
from bench.processes import Stub, share_the_cores, wrk_capacity_and_cores
from bench.run import SHARED, SMALL, Gateway

console = Console(highlight=False)
VARIANTS = {"never sheds": "0", "sheds at 10 ms of loop lag": "10"}


def _delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {key: after.get(key, 0) - before.get(key, 0) for key in after}


def run(seconds: int, repeats: int) -> dict[str, Any]:
    share_the_cores()
    production, shadow = Stub("fast"), Stub("fast")
    results: dict[str, Any] = {"seconds": seconds, "repeats": repeats, "variants": {}}
    with tempfile.TemporaryDirectory() as work:
        gateways = {name: Gateway(Path(work) / f"g{i}", {"fast": shadow}, production, SHARED,
                                  ["--shadow-shed-lag-ms", limit])
                    for i, (name, limit) in enumerate(VARIANTS.items())}  # fmt: skip
        try:
            urls = {}
            for name, gateway in gateways.items():
                urls[name] = gateway.endpoint("bench")
                gateway.start_shadow("bench", "fast", 100)
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in gateways}
            for _ in range(repeats):
                for name, gateway in gateways.items():
                    before = gateway.shadow_counts()
                    rps, cores = wrk_capacity_and_cores(urls[name], seconds, gateway.pid)
                    copies = _delta(gateway.shadow_counts(), before)
                    runs[name].append({"rps": rps, "cores": round(cores, 2), "copies": copies})
            for name, gateway in gateways.items():
                before = gateway.shadow_counts()
                half = open_loop(urls[name], SMALL, 333, 8.0, 0.5).summary()
                copies = _delta(gateway.shadow_counts(), before)
                rps = statistics.median(found["rps"] for found in runs[name])
                shed = sum(found["copies"].get("shed", 0) for found in runs[name])
                sampled = sum(found["copies"].get("sampled", 0) for found in runs[name])
                results["variants"][name] = {"saturated": runs[name], "median_rps": round(rps),
                                             "at_333_rps": {"p99_ms": half["p99_ms"],
                                                            "copies": copies}}  # fmt: skip
                console.print(f"  {name:27}: saturated {rps:.0f} rps (median of {repeats}), "
                              f"copies shed {shed:.0f} of {sampled:.0f}; at 333 rps shed "
                              f"{copies.get('shed', 0):.0f} of "
                              f"{copies.get('sampled', 0):.0f}")  # fmt: skip
        finally:
            for gateway in gateways.values():
                gateway.stop()
            production.stop()
            shadow.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    console.print("[bold]Shedding shadow copies when saturated[/] (fast shadow at 100 %)")
    result = run(args.seconds, args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "shedding.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
