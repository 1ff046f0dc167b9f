"""The supervision loop: polls workers, restarts the dead ones, keeps health current; on
the leader, also frees what the launcher made that no pool holds any more."""

from __future__ import annotations

from collections.abc import Callable

from shadowserve.periodic import PeriodicWork
from shadowserve.workers.instance import HealthChecks
from shadowserve.workers.runtime import WorkerRuntime


class Supervisor(PeriodicWork):
    def __init__(
        self, runtime: WorkerRuntime, leads: Callable[[], bool], interval: float = 0.25
    ) -> None:
        super().__init__("supervisor", interval)
        self._runtime = runtime
        self._leads = leads
        self._checks = HealthChecks()

    def stop(self) -> None:
        super().stop()
        self._runtime.shutdown()
        self._checks.close()

    def run_once(self) -> None:
        self._runtime.supervise(self._checks)
        self._checks.forget_unused()
        if self._leads():  # a follower holds no pools: everything would look unclaimed
            self._runtime.collect()
