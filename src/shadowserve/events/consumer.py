"""The shape every invocation-event consumer shares: the request path only appends the event
to an inbox (O(1), never blocking, no lock); a thread of the consumer's own does the work.

The thread takes the inbox in batches, every ``batch_seconds``, rather than being woken for
each event: a wake per event cost the event loop two GIL hand-overs and several futex calls
per request, which on a busy 2-core machine showed as production p99 and as most of the
gateway's CPU per request (measured in `make bench`, docs/benchmarks.md). A batch interval
of 0 wakes the thread for every event, as before.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from shadowserve.events.invocations import InvocationEvent

log = logging.getLogger(__name__)

# How often consumers take the events off the request path. Metrics, captures and the event
# log see an event at most this much later; nothing the request path does waits for them.
BATCH_SECONDS = 0.05


class QueuedConsumer:
    """Subclasses say which events they want and what to do with them, when idle, and on stop.

    ``capacity`` bounds the inbox (0: unbounded); events past it are dropped and counted.
    """

    def __init__(
        self,
        name: str,
        idle_seconds: float = 0.25,
        capacity: int = 0,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        # deque.append and popleft are atomic: the request path appends without a lock.
        self._inbox: deque[InvocationEvent] = deque()
        self._capacity = capacity
        self._idle_seconds = idle_seconds
        self._batch_seconds = batch_seconds
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.inbox_dropped = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Handle everything already offered, then ``finish``, then stop."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)

    def __call__(self, event: InvocationEvent) -> None:
        """The EventBus subscriber."""
        if not self.wants(event):
            return
        if self._capacity and len(self._inbox) >= self._capacity:
            self.inbox_dropped += 1
            return
        self._inbox.append(event)
        if self._batch_seconds <= 0:
            self._wake.set()

    def wants(self, event: InvocationEvent) -> bool:  # noqa: ARG002 - a hook for subclasses
        return True

    def handle(self, event: InvocationEvent) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        """After every batch and every idle interval: time-based work (flushes, uploads)."""

    def finish(self) -> None:
        """Once, at stop, after the last event."""

    def _run(self) -> None:
        interval = self._batch_seconds if self._batch_seconds > 0 else self._idle_seconds
        while True:
            # Only stop() (or, without batching, a new event) sets it before the interval.
            self._wake.wait(interval)
            self._wake.clear()
            stopping = self._stopping  # read before draining: nothing is offered after stop
            self._drain()
            self.tick()
            if stopping:
                self.finish()
                return

    def _drain(self) -> None:
        inbox = self._inbox
        while inbox:
            try:
                self.handle(inbox.popleft())
            except Exception:  # one bad event must not stop the consumer for good
                log.exception("%s: an event could not be handled", self._thread.name)
