"""Free space where the server keeps its state, for /healthz and /metrics: a full disk stops
control-plane writes (answered with ServiceUnavailable) long before it stops serving."""

from __future__ import annotations

import shutil
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge

LOW_SPACE_BYTES = 1024 * 1024  # below this, /healthz says "degraded"


class StorageHealth:
    def __init__(self, data_dir: Path, registry: CollectorRegistry) -> None:
        self._data_dir = data_dir
        gauge = Gauge("shadowserve_data_dir_free_bytes",
                      "Free bytes on the file system of the data directory.",
                      registry=registry)  # fmt: skip
        gauge.set_function(lambda: float(self.free_bytes() or 0))

    def free_bytes(self) -> int | None:
        try:
            return shutil.disk_usage(self._data_dir).free
        except OSError:
            return None

    def report(self) -> dict[str, object]:
        free = self.free_bytes()
        if free is not None and free >= LOW_SPACE_BYTES:
            return {"status": "ok", "data_dir_free_bytes": free}
        return {
            "status": "degraded",
            "data_dir_free_bytes": free,
            "reason": f"The data directory {self._data_dir} is out of space: changes cannot "
            "be stored (invocations are still served).",
        }
