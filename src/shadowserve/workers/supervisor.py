"""The supervision loop: polls workers, restarts the dead ones, keeps health current."""

from __future__ import annotations

import httpx

from shadowserve.periodic import PeriodicThread
from shadowserve.workers.runtime import WorkerRuntime


class Supervisor:
    def __init__(self, runtime: WorkerRuntime, interval: float = 0.25) -> None:
        self._runtime = runtime
        self._client = httpx.Client()
        self._thread = PeriodicThread("supervisor", interval, self._pass)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._thread.stop()
        self._runtime.shutdown()
        self._client.close()

    def _pass(self) -> None:
        self._runtime.supervise(self._client)
