"""A few seconds of the benchmark harness, so it cannot rot. No timing is asserted: only that
every phase ran and produced its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_bench_harness_smoke(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads((tmp_path / "latest.json").read_text())
    assert results["capacity"]["gateway_rps"] > 0
    assert results["capacity"]["direct_rps"] > 0
    assert results["capacity"]["rps_per_gateway_core"] > 0
    assert results["latency"][0]["gateway"]["sent"] > 0
    assert {row["system"] for row in results["isolation"] + results["nginx"]} == {
        "shadowserve", "nginx"}  # fmt: skip
    assert all(row["errors"] == 0 for row in results["isolation"])
    assert {row["capture"] for row in results["capture"]} == {"off", "on", "sink down"}
    assert (tmp_path / "isolation.png").stat().st_size > 1000
    assert results["target"]["gateway"]["sent"] > 0
    assert all("baseline" in row for row in results["isolation"])
    interval = results["isolation"][0]["p99_ratio"]
    assert interval["low"] <= interval["ratio"] <= interval["high"]


def test_side_by_side_gateways_smoke(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.ab_gateways", "--rounds", "1", "--pairs", "1",
         "--rate", "50", "--cells", "fast, capture on", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads((tmp_path / "ab_event-batching.json").read_text())
    assert set(found["modes"]) == {"fast, capture on"}
    for variants in found["modes"].values():
        assert len(variants) == 2
        assert all(cell["cpu_us_per_request"] > 0 for cell in variants.values())


def test_soak_smoke(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--smoke", "--rate", "50", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    soak = json.loads((tmp_path / "soak.json").read_text())
    assert soak["load"]["errors"] == 0
    assert soak["load"]["sent"] > 0
    # Every request of the run has its production capture record (sampling is 100 %).
    assert soak["capture"]["production_records"] == soak["load"]["sent"]
    assert soak["capture"]["distinct_inference_ids"] == soak["load"]["sent"]
    assert soak["samples"] and soak["fds"]["max"] > 0
    assert (tmp_path / "soak.png").stat().st_size > 1000
