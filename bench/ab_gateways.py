"""Two gateways that differ in one setting, side by side on a shared machine (#16).

Nothing is pinned: the gateways, the stub models and the load generator share the cores, as
on one self-hosted box. Each gateway has an endpoint copying to a shadow at 100 % and the
same production model on an endpoint without one. For every shadow mode, in rounds, each
gateway in turn runs production's open-loop load on both endpoints interleaved, so only one
gateway is loaded at a time and drift on the host hits both alike. A cell's figures:
production p99 with the shadow over without (the isolation ratio), and the gateway's CPU
per request over both endpoints (utime + stime from /proc).

Usage: python -m bench.ab_gateways [--lever event-batching | --against REVISION]
       [--rate 333] [--rounds 2] [--pairs 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.loadgen import Alternation, alternated
from bench.paired import p99_ratio
from bench.processes import Stub, cpu_seconds, share_the_cores
from bench.run import LARGE, SHARED, SMALL, Gateway

console = Console(highlight=False)
# Each lever: the setting as it was (A) and as it is now (B).
LEVERS: dict[str, dict[str, list[str]]] = {
    "event-batching": {
        "each event at once": ["--event-batch-seconds", "0"],
        "batched every 50 ms": ["--event-batch-seconds", "0.05"],
    },
}
# (the cell's name, the shadow stub's mode or None for no shadow, whether the endpoint
# captures, its payload, its rate as a share of --rate)
MODES = (("fast", "fast", False, SMALL, 1.0), ("fast, capture on", "fast", True, SMALL, 1.0),
         ("error", "error", False, SMALL, 1.0), ("hang", "hang", False, SMALL, 1.0),
         # Capture alone, with 1 MB payloads at 20 rps (as bench.run's capture cells).
         ("capture 1 MB", None, True, LARGE, 0.06),
         # A shadow answering 1 MB (its request echoed): a large pair to compare.
         ("echo 1 MB", "echo", False, LARGE, 0.06))  # fmt: skip
# Many short runs rather than a few long ones: a hiccup then lands in one pair of many.
SEGMENT_SECONDS = 0.5


def _cell(gateway: Gateway, endpoint: str, body: bytes, rate: float,
          pairs: int) -> tuple[Alternation, float]:  # fmt: skip
    """Production's load on the plain and the shadowed endpoint, alternated in short runs;
    the gateway's CPU seconds over both."""
    plain = f"{gateway.server.url}/endpoints/plain/invocations"
    shadowed = f"{gateway.server.url}/endpoints/{endpoint}/invocations"
    before = cpu_seconds(gateway.pid)
    alternation = alternated(plain, shadowed, body, rate, SEGMENT_SECONDS, pairs, 0.1)
    return alternation, cpu_seconds(gateway.pid) - before


Variant = tuple[list[str], list[str]]  # a gateway's wrapper command and its extra options


def at_revision(revision: str, into: Path) -> list[str]:
    """A wrapper that runs a gateway from this repository's source at ``revision``."""
    archive = subprocess.run(["git", "archive", revision, "src"], capture_output=True,
                             check=True).stdout  # fmt: skip
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return ["env", f"PYTHONPATH={into / 'src'}"]


def run(variants: dict[str, Variant], label: str, rate: float, rounds: int, pairs: int,
        cells: tuple[str, ...]) -> dict[str, Any]:  # fmt: skip
    share_the_cores()
    production = Stub("fast")
    # One stub per mode the cells run (two cells share "fast": a stub made twice was one left
    # running).
    modes = dict.fromkeys(mode for name, mode, *_ in MODES if name in cells and mode is not None)
    stubs = {mode: Stub(mode) for mode in modes}
    results: dict[str, Any] = {"lever": label, "rate": rate, "rounds": rounds, "pairs": pairs,
                               "segment_seconds": SEGMENT_SECONDS, "modes": {}}  # fmt: skip
    with tempfile.TemporaryDirectory() as work:
        gateways = {name: Gateway(Path(work) / f"g{i}", stubs, production, SHARED, args,
                                  wrapper)
                    for i, (name, (wrapper, args)) in enumerate(variants.items())}  # fmt: skip
        try:
            for gateway in gateways.values():
                gateway.endpoint("plain")
                gateway.endpoint("shadowed")
                gateway.endpoint("captured", capture=True)
            for cell, mode, capture, body, share in (m for m in MODES if m[0] in cells):
                endpoint = "captured" if capture else "shadowed"
                experiments = {name: g.start_shadow(endpoint, mode, 100)
                               for name, g in gateways.items() if mode is not None}  # fmt: skip
                pooled = {name: Alternation([], []) for name in gateways}
                cpu = dict.fromkeys(gateways, 0.0)
                for _ in range(rounds):  # the gateways take turns
                    for name, gateway in gateways.items():
                        alternation, used = _cell(gateway, endpoint, body, rate * share, pairs)
                        pooled[name].first += alternation.first
                        pooled[name].second += alternation.second
                        cpu[name] += used
                for name, experiment in experiments.items():
                    gateways[name].stop_shadow(experiment, endpoint)
                results["modes"][cell] = {name: _summary(cell, name, pooled[name], cpu[name])
                                          for name in gateways}  # fmt: skip
        finally:
            for gateway in gateways.values():
                gateway.stop()
            for stub in [production, *stubs.values()]:
                stub.stop()
    results["finished"] = time.time()
    return results


def _summary(mode: str, name: str, pooled: Alternation, cpu: float) -> dict[str, Any]:
    base, cell = (side.summary() for side in pooled.merged())
    estimate = p99_ratio(pooled)
    cpu_us = cpu / max(1, base["sent"] + cell["sent"]) * 1e6
    console.print(f"  {mode:16} {name:22}: production p99 {cell['p99_ms']:.2f} ms vs "
                  f"{base['p99_ms']:.2f} ms without shadow, x{estimate.value:.2f} "
                  f"[{estimate.low:.2f} to {estimate.high:.2f}]; "
                  f"gateway CPU {cpu_us:.0f} µs/request")  # fmt: skip
    return {"p99_vs_baseline": estimate.as_json(), "p99_ms": cell["p99_ms"],
            "baseline_p99_ms": base["p99_ms"], "cpu_us_per_request": round(cpu_us, 1),
            "valid": base["valid"] and cell["valid"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lever", choices=sorted(LEVERS), default="event-batching")
    parser.add_argument("--against", metavar="REVISION",
                        help="instead of a lever: a gateway from the source at this revision "
                             "against one from this tree")  # fmt: skip
    parser.add_argument("--rate", type=float, default=333.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=8, help="alternated pairs per round")
    parser.add_argument("--cells", nargs="+", choices=[m[0] for m in MODES],
                        default=[m[0] for m in MODES], help="the shadow cells to run")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        if args.against:
            label = f"against-{args.against}"
            variants: dict[str, Variant] = {
                f"at {args.against}": (at_revision(args.against, Path(work) / "tree"), []),
                "this tree": ([], []),
            }
        else:
            label = args.lever
            variants = {name: ([], options) for name, options in LEVERS[label].items()}
        console.print(f"[bold]{label}[/], shared machine, {args.rate:.0f} rps, "
                      f"{args.rounds} rounds of {args.pairs} pairs")  # fmt: skip
        result = run(variants, label, args.rate, args.rounds, args.pairs, tuple(args.cells))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"ab_{label}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
