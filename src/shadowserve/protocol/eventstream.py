"""AWS's event-stream framing (``application/vnd.amazon.eventstream``), which SageMaker's
InvokeEndpointWithResponseStream answers in and botocore's EventStream reads.

A message is a prelude (total length, headers length, CRC32 of those 8 bytes), the headers
(each: name length, name, type 7 = string, value length, value), the payload, and a CRC32
of everything before it; all integers big-endian.
"""

from __future__ import annotations

import json
import struct
import zlib

_STRING = 7


def message(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return head + struct.pack(">I", zlib.crc32(head))


def event(event_type: str, payload: bytes, content_type: str = "application/octet-stream") -> bytes:
    return message(
        {":event-type": event_type, ":content-type": content_type, ":message-type": "event"},
        payload,
    )


def exception(exception_type: str, fields: dict[str, str]) -> bytes:
    """A modeled error ending the stream (e.g. ModelStreamError), its members as JSON."""
    return message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps(fields).encode(),
    )


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack(">B", len(raw_name)) + raw_name
        + struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    )  # fmt: skip
