"""A daemon thread that runs one pass of work every ``interval`` seconds until stopped, or
sooner when something it watches for has happened (``wake``)."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicThread:
    """``interval``: the seconds between passes, or what to ask before each wait. ``wake``: an
    event that, once set, ends the current wait (it is cleared for the next one)."""

    def __init__(
        self,
        name: str,
        interval: float | Callable[[], float],
        work: Callable[[], None],
        wake: threading.Event | None = None,
    ) -> None:
        self._name = name
        self._interval = interval if callable(interval) else (lambda: interval)
        self._work = work
        self._stopped = threading.Event()
        self._wake = wake or threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start (or, after ``stop``, start again) the loop on a thread of its own."""
        self._stopped = stopped = threading.Event()  # each run its own: an old one stays stopped
        self._thread = threading.Thread(
            target=self._loop, args=(stopped,), name=self._name, daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _loop(self, stopped: threading.Event) -> None:
        while True:
            # Cleared before the pass: a wake during it brings the next one at once.
            self._wake.clear()
            if stopped.is_set():
                return
            try:
                self._work()
            except Exception:  # The loop must outlive any one bad pass.
                log.exception("%s pass failed", self._name)
            self._wake.wait(self._interval())


class PeriodicWork(ABC):
    """Work done in passes on a thread of its own (reconciler, supervisor, Cloud Control
    requests); a subclass says what one pass is."""

    def __init__(
        self,
        name: str,
        interval: float | Callable[[], float],
        wake: threading.Event | None = None,
    ) -> None:
        self._thread = PeriodicThread(name, interval, self.run_once, wake)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._thread.stop()

    @abstractmethod
    def run_once(self) -> None:
        """One pass; an exception is logged and the next pass runs as usual."""
