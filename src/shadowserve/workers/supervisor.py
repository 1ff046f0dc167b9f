"""The supervision loop: polls workers, restarts the dead ones, keeps health current."""

from __future__ import annotations

import httpx

from shadowserve.periodic import PeriodicWork
from shadowserve.workers.runtime import WorkerRuntime


class Supervisor(PeriodicWork):
    def __init__(self, runtime: WorkerRuntime, interval: float = 0.25) -> None:
        super().__init__("supervisor", interval)
        self._runtime = runtime
        self._client = httpx.Client()

    def stop(self) -> None:
        super().stop()
        self._runtime.shutdown()
        self._client.close()

    def run_once(self) -> None:
        self._runtime.supervise(self._client)
