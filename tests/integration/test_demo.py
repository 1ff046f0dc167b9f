"""`shadowserve demo` (what `make demo` runs) completes and tells the story it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shadowserve.cli", "demo", "--data-dir", str(tmp_path / "demo"),
         "--port", "0"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for expected in (
        "1. Train two models",
        "experiment cancer-v2-shadow: Running",
        "1138/1138",
        "compared in candidate mode",
        "label agreement (/0, score ≥ 0.5)",
        "Confusion /0",
        "In words: the shadow gives the same label /0 (score ≥ 0.5)",
        "In words: the shadow's scores /0 differ in distribution",
        # Deterministic models and data: the candidate keeps 88 % of the labels and ranks
        # alike, and is no slower, so candidate mode promotes it with no tuned threshold.
        "Verdict: PROMOTE (candidate mode)",
        "requests answered by ['candidate']",
        "/ui/experiment.html?name=cancer-v2-shadow",
        "experiment cancer-v2-shadow: Completed",
        "is in production",
        "records in",
        "Server stopped cleanly.",
    ):
        assert expected in out, expected
    captured = list((tmp_path / "demo" / "objects" / "demo-capture").rglob("*.jsonl"))
    assert captured
