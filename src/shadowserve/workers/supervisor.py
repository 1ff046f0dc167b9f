"""The supervision loop: polls workers, restarts the dead ones, keeps health current; on
the leader, also frees what the launcher made that no pool holds any more."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from shadowserve.periodic import PeriodicWork
from shadowserve.workers.runtime import WorkerRuntime


class Supervisor(PeriodicWork):
    def __init__(
        self, runtime: WorkerRuntime, leads: Callable[[], bool], interval: float = 0.25
    ) -> None:
        super().__init__("supervisor", interval)
        self._runtime = runtime
        self._leads = leads
        self._client = httpx.Client()

    def stop(self) -> None:
        super().stop()
        self._runtime.shutdown()
        self._client.close()

    def run_once(self) -> None:
        self._runtime.supervise(self._client)
        if self._leads():  # a follower holds no pools: everything would look unclaimed
            self._runtime.collect()
