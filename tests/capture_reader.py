"""A reader of SageMaker data-capture files written only from SageMaker's documentation
(Model Monitor "View captured data"): JSON Lines, one record per invocation, with
captureData.endpointInput / endpointOutput (observedContentType, mode, data, encoding),
eventMetadata (eventId, inferenceTime, inferenceId) and eventVersion. It shares no code with
shadowserve, so it checks the format rather than our own round trip."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Payload:
    content_type: str
    mode: str
    encoding: str
    raw: bytes


@dataclass(frozen=True)
class CapturedRecord:
    event_id: str
    inference_id: str | None
    inference_time: datetime
    input: Payload | None
    output: Payload | None


def read_capture_file(text: str) -> list[CapturedRecord]:
    return [_record(json.loads(line)) for line in text.splitlines() if line.strip()]


def _record(raw: dict) -> CapturedRecord:  # type: ignore[type-arg]
    assert raw["eventVersion"] == "0"
    metadata = raw["eventMetadata"]
    time = datetime.strptime(metadata["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")
    data = raw["captureData"]
    return CapturedRecord(
        event_id=metadata["eventId"],
        inference_id=metadata.get("inferenceId"),
        inference_time=time,
        input=_payload(data.get("endpointInput"), "INPUT"),
        output=_payload(data.get("endpointOutput"), "OUTPUT"),
    )


def _payload(raw: dict | None, mode: str) -> Payload | None:  # type: ignore[type-arg]
    if raw is None:
        return None
    assert raw["mode"] == mode
    encoding = raw["encoding"]
    if encoding == "BASE64":
        body = base64.b64decode(raw["data"])
    elif encoding in ("CSV", "JSON"):
        body = raw["data"].encode("utf-8")
    else:
        raise AssertionError(f"unknown encoding {encoding}")
    return Payload(raw["observedContentType"], mode, encoding, body)
