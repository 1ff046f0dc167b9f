"""SageMaker's data-capture record format and object layout (pure functions).

A record (one JSON line per invocation leg)::

    {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                                        "data": "1,2", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                        "data": "0.9", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceTime": "2026-01-05T09:00:00Z",
                       "inferenceId": "<id>"},
     "eventVersion": "0"}

Files live at ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/MM-SS-mmm-<uuid4>.jsonl``.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from shadowserve.domain.resources import CaptureContentTypeHeader, DataCaptureConfig
from shadowserve.events.invocations import InvocationEvent
from shadowserve.objectstore import S3Location

CSV, JSON, BASE64 = "CSV", "JSON", "BASE64"


def record_for(event: InvocationEvent, config: DataCaptureConfig) -> dict[str, Any]:
    modes = {option.capture_mode for option in config.capture_options}
    header = config.capture_content_type_header
    data: dict[str, Any] = {}
    if "Input" in modes:
        data["endpointInput"] = _payload(
            event.request_body, event.request_content_type, "INPUT", header
        )
    if "Output" in modes:
        data["endpointOutput"] = _payload(
            event.response_body, event.response_content_type or "", "OUTPUT", header
        )
    return {
        "captureData": data,
        "eventMetadata": {
            "eventId": event.event_id,
            "inferenceTime": event.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            # Always present (generated when the caller sent none), so the production and
            # shadow records of one request join on it.
            "inferenceId": event.inference_id,
        },
        "eventVersion": "0",
    }


def encoding_for(content_type: str, header: CaptureContentTypeHeader | None) -> str:
    """CSV or JSON when the media type is listed (parameters ignored); otherwise BASE64."""
    media = content_type.split(";", 1)[0].strip().lower()
    if header is not None:
        if media in _lowered(header.csv_content_types):
            return CSV
        if media in _lowered(header.json_content_types):
            return JSON
    return BASE64


def _payload(
    body: bytes, content_type: str, mode: str, header: CaptureContentTypeHeader | None
) -> dict[str, str]:
    encoding = encoding_for(content_type, header)
    text: str | None = None
    if encoding != BASE64:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            encoding = BASE64  # declared text but is not: keep the bytes exact
    if text is None:
        text = base64.b64encode(body).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}


def _lowered(types: list[str] | None) -> set[str]:
    return {t.split(";", 1)[0].strip().lower() for t in types or []}


def object_location(destination: str, endpoint: str, variant: str, first: datetime) -> S3Location:
    """Where a file whose first record was captured at ``first`` goes."""
    base = S3Location.parse(destination)
    prefix = base.key.strip("/")
    name = f"{first:%M-%S}-{first.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
    parts = [prefix, endpoint, variant, f"{first:%Y/%m/%d/%H}", name]
    return S3Location(base.bucket, "/".join(part for part in parts if part))
