"""Render bench/results/latest.json as the tables of docs/benchmarks.md.

Usage: python -m bench.markdown [bench/results/latest.json] > tables.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def render(results: dict[str, Any]) -> str:
    lines = [_machine(results["machine"]), "", _capacity(results["capacity"]), "",
             _latency(results["latency"]), "", _target(results.get("target")), "",
             _isolation(results), "",
             _capture(results["capture"])]  # fmt: skip
    return "\n".join(lines) + "\n"


def _p99(row: dict[str, Any]) -> str:
    return f"{row['p99_ms']}" + ("" if row.get("valid", True) else " ⚠")


def interval(found: dict[str, float] | None) -> str:
    """An estimate's 90 % interval (pairs resampled, bench/paired.py), if the run measured one;
    results from before intervals lack them."""
    return f" [{found['low']:.2f} to {found['high']:.2f}]" if found else ""


def _difference(gateway: dict[str, Any]) -> str:
    """The p99 overhead's interval (gateway vs direct)."""
    return interval(gateway.get("p99_difference"))


def _machine(machine: dict[str, Any]) -> str:
    return (f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
            f"Linux {machine['kernel']}, Python {machine['python']}; gateway pinned to its own "
            f"core: {machine['pinned']}.")  # fmt: skip


def _capacity(capacity: dict[str, Any]) -> str:
    return "\n".join([
        "| capacity (wrk, 32 connections, closed loop) | requests/s |", "|---|---|",
        f"| direct to the model stub | {capacity['direct_rps']:.0f} |",
        f"| through shadowserve | {capacity['gateway_rps']:.0f} |",
    ])  # fmt: skip


def _latency(rows: list[dict[str, Any]]) -> str:
    out = ["| offered rps | direct p50 / p99 (ms) | shadowserve p50 / p90 / p99 / p99.9 (ms) | "
           "overhead p50 / p90 / p99 / p99.9 (ms) | gateway CPU µs per request |",
           "|---|---|---|---|---|"]  # fmt: skip
    for row in rows:
        direct, gateway = row["direct"], row["gateway"]
        out.append(
            f"| {row['rate']:.0f} | {direct['p50_ms']} / {_p99(direct)} | {gateway['p50_ms']} / "
            f"{gateway['p90_ms']} / {_p99(gateway)} / {gateway['p999_ms']} | "
            f"{row['overhead_p50_ms']} / {row['overhead_p90_ms']} / {row['overhead_p99_ms']}"
            f"{_difference(gateway)} / {row['overhead_p999_ms']} | "
            f"{gateway['gateway_cpu_us_per_request']} |"
        )
    return "\n".join(out)


def _target(row: dict[str, Any] | None) -> str:
    if row is None:
        return ""
    direct, gateway = row["direct"], row["gateway"]
    return "\n".join([
        "| target cell: shadow 100 %, capture on | direct | shadowserve | overhead |",
        "|---|---|---|---|",
        f"| p50 (ms) | {direct['p50_ms']} | {gateway['p50_ms']} | {row['overhead_p50_ms']} |",
        f"| p99 (ms) | {_p99(direct)} | {_p99(gateway)} | {row['overhead_p99_ms']}"
        f"{_difference(gateway)} |",
        f"| p99.9 (ms) | {direct['p999_ms']} | {gateway['p999_ms']} | {row['overhead_p999_ms']} |",
        f"| gateway CPU µs per request | | {gateway['gateway_cpu_us_per_request']} | |",
    ])  # fmt: skip


def _isolation(results: dict[str, Any]) -> str:
    nginx = {(r["mode"], r["sampling"]): r for r in results["nginx"]}
    out = ["| shadow | sampling | shadowserve p99 (ms) | no shadow, interleaved | "
           "ratio [90 % interval] | rps | errors | copies sent / dropped | nginx p99 (ms) | rps | "
           "errors | RSS MiB before → after |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in results["isolation"]:
        peer = nginx.get((row["mode"], row["sampling"]))
        copies = row.get("shadow", {})
        peer_cells = (f"{_p99(peer)} | {peer['achieved_rps']} | {peer['errors']}"
                      if peer else "— | — | —")  # fmt: skip
        base = row.get("baseline")
        base_cells = (f"{_p99(base)} | {row['p99_vs_baseline']}{interval(row.get('p99_ratio'))}"
                      if base else "— | —")  # fmt: skip
        out.append(
            f"| {row['mode']} | {row['sampling']}% | {_p99(row)} | {base_cells} | "
            f"{row['achieved_rps']} | "
            f"{row['errors']} | {copies.get('sent', 0):.0f} / {copies.get('dropped', 0):.0f} | "
            f"{peer_cells} | {row['rss_before_mib']} → {row['rss_after_mib']} |"
        )
    return "\n".join(out)


def _capture(rows: list[dict[str, Any]]) -> str:
    out = ["| payload | capture | offered rps | p50 (ms) | p99 (ms) | p99 on / off, interleaved "
           "[90 % interval] | errors |",
           "|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in rows:
        ratio = row.get("p99_ratio")
        shown = f"x{ratio['ratio']:.2f}{interval(ratio)}" if ratio else ""
        out.append(f"| {row['payload']} | {row['capture']} | {row['offered_rps']} | "
                   f"{row['p50_ms']} | {_p99(row)} | {shown} | {row['errors']} |")  # fmt: skip
    return "\n".join(out)


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.json")
    sys.stdout.write(render(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
