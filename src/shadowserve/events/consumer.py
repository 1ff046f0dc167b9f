"""The shape every invocation-event consumer shares: the request path only puts the event on
an inbox (O(1), never blocking); a thread of the consumer's own does the work."""

from __future__ import annotations

import queue
import threading

from shadowserve.events.invocations import InvocationEvent

_STOP = object()


class QueuedConsumer:
    """Subclasses say which events they want and what to do with them, when idle, and on stop.

    ``capacity`` bounds the inbox (0: unbounded); events past it are dropped and counted.
    """

    def __init__(self, name: str, idle_seconds: float = 0.25, capacity: int = 0) -> None:
        self._inbox: queue.Queue[object] = queue.Queue(capacity)
        self._idle_seconds = idle_seconds
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.inbox_dropped = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Handle everything already offered, then ``finish``, then stop."""
        self._inbox.put(_STOP)
        self._thread.join(timeout)

    def __call__(self, event: InvocationEvent) -> None:
        """The EventBus subscriber."""
        if self.wants(event):
            try:
                self._inbox.put_nowait(event)
            except queue.Full:
                self.inbox_dropped += 1

    def wants(self, event: InvocationEvent) -> bool:  # noqa: ARG002 - a hook for subclasses
        return True

    def handle(self, event: InvocationEvent) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        """After every event and every idle interval: time-based work (flushes, uploads)."""

    def finish(self) -> None:
        """Once, at stop, after the last event."""

    def _run(self) -> None:
        while True:
            try:
                item = self._inbox.get(timeout=self._idle_seconds)
            except queue.Empty:
                self.tick()
                continue
            if item is _STOP:
                self.finish()
                return
            if isinstance(item, InvocationEvent):
                self.handle(item)
            self.tick()
