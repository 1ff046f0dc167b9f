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

import functools
import uuid
from datetime import datetime
from json.encoder import encode_basestring_ascii

import orjson
import pybase64

from shadowserve.domain.resources import CaptureContentTypeHeader, DataCaptureConfig
from shadowserve.events.invocations import InvocationEvent
from shadowserve.objectstore import S3Location

CSV, JSON, BASE64 = "CSV", "JSON", "BASE64"
TEXT_PIECE = 64 * 1024  # characters of a text payload escaped at a time


def append_record(out: bytearray, event: InvocationEvent, config: DataCaptureConfig) -> None:
    """Append the event's record to ``out``: one JSON line, as ``json.dumps`` with compact
    separators would write it.

    The payloads are encoded straight into ``out``, text a piece at a time. A 1 MB record in
    one ``json.dumps`` held the GIL for 8 ms in a single C call, and the event loop, waiting
    for it, showed that as production p99 (#16); an ASCII piece holds it for 4 µs, any
    other for about 0.2 ms.
    """
    modes = {option.capture_mode for option in config.capture_options}
    header = config.capture_content_type_header
    sides = []
    if "Input" in modes:
        sides.append(("endpointInput", event.request_body, event.request_content_type, "INPUT"))
    if "Output" in modes:
        sides.append(("endpointOutput", event.response_body, event.response_content_type or "",
                      "OUTPUT"))  # fmt: skip
    out += b'{"captureData":{'
    for index, (name, body, content_type, mode) in enumerate(sides):
        if index:
            out += b","
        _append_payload(out, name, body, content_type, mode, header)
    out += b'},"eventMetadata":{"eventId":' + _string(event.event_id)
    # "2026-03-04T05:06:07Z": isoformat's first 19 characters are strftime's
    # "%Y-%m-%dT%H:%M:%S" at two thirds of its cost.
    inference_time = event.time.isoformat(timespec="seconds")[:19] + "Z"
    out += b',"inferenceTime":' + _string(inference_time)
    # Always present (generated when the caller sent none), so the production and shadow
    # records of one request join on it.
    out += b',"inferenceId":' + _string(event.inference_id) + b'},"eventVersion":"0"}\n'


def encoding_for(content_type: str, header: CaptureContentTypeHeader | None) -> str:
    """CSV or JSON when the media type is listed (parameters ignored); otherwise BASE64."""
    media = content_type.split(";", 1)[0].strip().lower()
    if header is not None:
        if media in _lowered(header.csv_content_types):
            return CSV
        if media in _lowered(header.json_content_types):
            return JSON
    return BASE64


def _append_payload(
    out: bytearray,
    name: str,
    body: bytes,
    content_type: str,
    mode: str,
    header: CaptureContentTypeHeader | None,
) -> None:
    encoding = encoding_for(content_type, header)
    text: str | None = None
    if encoding != BASE64:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            encoding = BASE64  # declared text but is not: keep the bytes exact
    out += b'"' + name.encode() + b'":{"observedContentType":' + _string(content_type)
    out += b',"mode":' + _string(mode) + b',"data":"'
    if text is None:
        # pybase64 (SIMD, the GIL released): 0.06 ms a megabyte, the standard library's 1.6.
        out += pybase64.b64encode(body)
    else:
        for start in range(0, len(text), TEXT_PIECE):
            out += _string(text[start : start + TEXT_PIECE])[1:-1]
    out += b'","encoding":' + _string(encoding) + b"}"


def _string(text: str) -> bytes:
    """A JSON string, quoted and escaped byte for byte as ``json.dumps`` writes it.

    ASCII text without DEL goes through orjson, which writes it the same (it leaves DEL as
    it is, where ``json.dumps`` writes \\u007f) at 0.05 ms a megabyte against 2.8 for the
    standard library's C escaper: the capture thread of 1 MB records held the GIL for
    5.5 ms per request escaping them (#16). Other text (non-ASCII, written as \\u escapes)
    goes through that escaper: one ``json.dumps`` per string would build an encoder each time.
    """
    if text.isascii() and "\x7f" not in text:  # isascii is a flag CPython keeps: O(1)
        return orjson.dumps(text)
    return encode_basestring_ascii(text).encode("ascii")


def _lowered(types: list[str] | None) -> frozenset[str]:
    return _media_types(tuple(types or ()))


@functools.lru_cache(maxsize=256)
def _media_types(types: tuple[str, ...]) -> frozenset[str]:
    # Cached: the same config's lists are asked for on every record.
    return frozenset(t.split(";", 1)[0].strip().lower() for t in types)


def object_location(destination: str, endpoint: str, variant: str, first: datetime) -> S3Location:
    """Where a file whose first record was captured at ``first`` goes."""
    base = S3Location.parse(destination)
    prefix = base.key.strip("/")
    name = f"{first:%M-%S}-{first.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
    parts = [prefix, endpoint, variant, f"{first:%Y/%m/%d/%H}", name]
    return S3Location(base.bucket, "/".join(part for part in parts if part))
