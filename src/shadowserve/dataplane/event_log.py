"""An event consumer that appends one JSON line per invocation event to a file.

Bodies are summarised (size and SHA-256), not copied: this is an audit trail and a way to
watch pairing, not data capture. It writes from its own thread; a full queue drops lines.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
from pathlib import Path
from typing import Any

from shadowserve.dataplane.events import InvocationEvent

log = logging.getLogger(__name__)
_STOP = object()


class EventLog:
    def __init__(self, path: Path, capacity: int = 10_000) -> None:
        self._path = path
        self._queue: queue.Queue[object] = queue.Queue(capacity)
        self._thread = threading.Thread(target=self._write, name="event-log", daemon=True)
        self.dropped = 0

    def start(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def __call__(self, event: InvocationEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=10)

    def _write(self) -> None:
        with self._path.open("a", encoding="utf-8") as out:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                assert isinstance(item, InvocationEvent)
                out.write(json.dumps(summary(item)) + "\n")
                if self._queue.empty():
                    out.flush()


def summary(event: InvocationEvent) -> dict[str, Any]:
    return {
        "eventId": event.event_id,
        "time": event.time.isoformat(),
        "region": event.scope.region,
        "endpoint": event.endpoint_name,
        "variant": event.variant_name,
        "role": event.role.value,
        "experiment": event.experiment_name,
        "inferenceId": event.inference_id,
        "status": event.status,
        "errorKind": event.error_kind.value if event.error_kind else None,
        "modelLatencyUs": event.model_latency_us,
        "overheadLatencyUs": event.overhead_latency_us,
        "requestBytes": len(event.request_body),
        "requestSha256": hashlib.sha256(event.request_body).hexdigest(),
        "requestContentType": event.request_content_type,
        "responseBytes": len(event.response_body),
        "responseSha256": hashlib.sha256(event.response_body).hexdigest(),
        "responseContentType": event.response_content_type,
    }
