"""The isolation matrix as a PNG: production p99 per shadow mode and sampling, shadowserve
beside nginx's mirror."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def isolation_chart(results: dict[str, Any], path: Path) -> None:
    ours = {(r["mode"], r["sampling"]): r for r in results["isolation"] if r["mode"] != "none"}
    peer = {(r["mode"], r["sampling"]): r for r in results["nginx"]}
    cells = sorted(ours, key=lambda cell: (cell[0], cell[1]))
    labels = [f"{mode}\n{sampling}%" for mode, sampling in cells]
    figure, axes = plt.subplots(1, 2, figsize=(max(8, len(cells) * 0.9), 4.5))
    width = 0.4
    positions = range(len(cells))
    for axis, key, title in ((axes[0], "p99_ms", "production p99 (ms, log)"),
                             (axes[1], "achieved_rps", "production achieved rps")):  # fmt: skip
        axis.bar([p - width / 2 for p in positions], [ours[c][key] for c in cells], width,
                 label="shadowserve", color="#2563eb")  # fmt: skip
        axis.bar([p + width / 2 for p in positions], [peer.get(c, {}).get(key, 0) for c in cells],
                 width, label="nginx mirror", color="#9ca3af")  # fmt: skip
        axis.set_xticks(list(positions), labels, fontsize=8)
        axis.set_title(title)
        if key == "p99_ms":
            axis.set_yscale("log")
        axis.legend()
    baselines = [ours[c].get("baseline", {}).get("p99_ms") for c in cells]
    if all(value is not None for value in baselines):
        axes[0].scatter(
            [p - width / 2 for p in positions], baselines, marker="_", s=300, color="#15803d",
            zorder=3, label="shadowserve, no shadow (interleaved)",
        )  # fmt: skip
        axes[0].legend()
    figure.suptitle("Shadow isolation: production under shadow fast / slow / error / hang")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
