"""`shadowserve demo` (what `make demo` runs) completes and tells the story it promises."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_end_to_end() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shadowserve.cli", "demo"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "experiment status: Running" in out
    assert "experiment status: Completed" in out
    assert "production variants are now ['candidate']" in out
    assert "and it answers from ['candidate']" in out
    assert "Server stopped cleanly." in out
