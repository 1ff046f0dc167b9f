"""An event consumer that appends one JSON line per invocation event to a file.

Bodies are summarised (size and SHA-256), not copied: this is an audit trail and a way to
watch pairing, not data capture. It writes from its own thread; a full inbox drops lines.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TextIO

from shadowserve.events.consumer import BATCH_SECONDS, QueuedConsumer
from shadowserve.events.invocations import InvocationEvent


class EventLog(QueuedConsumer):
    def __init__(self, path: Path, capacity: int = 10_000,
                 batch_seconds: float = BATCH_SECONDS) -> None:  # fmt: skip
        super().__init__("event-log", capacity=capacity, batch_seconds=batch_seconds)
        self._path = path
        self._out: TextIO | None = None

    def start(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._out = self._path.open("a", encoding="utf-8")
        super().start()

    def handle(self, event: InvocationEvent) -> None:
        assert self._out is not None
        self._out.write(json.dumps(summary(event)) + "\n")

    def tick(self) -> None:
        if self._out is not None:  # once per batch: a burst is written in one go
            self._out.flush()

    def finish(self) -> None:
        if self._out is not None:
            self._out.close()


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
