"""The supervision loop: polls workers, restarts the dead ones, keeps health current."""

from __future__ import annotations

import logging
import threading

import httpx

from shadowserve.workers.runtime import WorkerRuntime

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self, runtime: WorkerRuntime, interval: float = 0.25) -> None:
        self._runtime = runtime
        self._interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._runtime.shutdown()

    def _loop(self) -> None:
        with httpx.Client() as client:
            while not self._stopped.is_set():
                try:
                    self._runtime.supervise(client)
                except Exception:
                    log.exception("supervision pass failed")
                self._stopped.wait(self._interval)
