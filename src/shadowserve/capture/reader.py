"""Reading captured records back: the files of one endpoint variant under a capture
destination, in time order, and each record's payloads decoded (the inverse of records.py).

Files are streamed line by line, so a capture of any size is read in bounded memory. A line
or file that can't be read is reported with its place and reason, and the rest goes on.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shadowserve.capture.records import BASE64
from shadowserve.objectstore import ObjectStore, S3Location, StoredObject


@dataclass(frozen=True)
class CapturedPayload:
    data: bytes
    content_type: str


@dataclass(frozen=True)
class CapturedRecord:
    inference_id: str
    time: datetime
    input: CapturedPayload | None
    output: CapturedPayload | None


@dataclass(frozen=True)
class CaptureFile:
    variant: str
    stored: StoredObject

    @property
    def order(self) -> str:
        """Sorts files of every variant by the time of their first record."""
        return "/".join(self.stored.location.key.rsplit("/", 5)[-5:])


@dataclass
class Unreadable:
    """Lines and files that could not be read: each counted, the first few named."""

    shown_at_most: int = 20
    count: int = 0
    named: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.named) < self.shown_at_most:
            self.named.append(text)

    def warnings(self) -> list[str]:
        hidden = self.count - len(self.named)
        return self.named + ([f"{hidden} more unreadable lines or files."] if hidden else [])


class UnreadableRecord(ValueError):
    """A line that is not a capture record; the message says where and why."""


def capture_files(
    store: ObjectStore, destination: str, endpoint: str, variants: list[str]
) -> list[CaptureFile]:
    """Every capture file of these variants, oldest first (by the name's timestamp)."""
    base = S3Location.parse(destination)
    found = []
    for variant in variants:
        key = "/".join(part for part in (base.key.strip("/"), endpoint, variant, "") if part)
        for stored in store.list(S3Location(base.bucket, key)):
            if stored.location.key.endswith(".jsonl"):
                found.append(CaptureFile(variant, stored))
    return sorted(found, key=lambda item: item.order)


def read_records(
    store: ObjectStore, file: CaptureFile
) -> Iterator[CapturedRecord | UnreadableRecord]:
    """The file's records; a line that can't be read becomes an UnreadableRecord in its place.
    ObjectStoreError if the file itself can't be read."""
    for number, line in enumerate(store.lines(file.stored.location), start=1):
        if not line.strip():
            continue
        try:
            yield decode_record(line)
        except (ValueError, KeyError, TypeError) as exc:
            yield UnreadableRecord(f"{file.stored.uri} line {number}: {_why(exc)}")


def decode_record(line: bytes) -> CapturedRecord:
    raw = json.loads(line)
    metadata = raw["eventMetadata"]
    data = raw["captureData"]
    return CapturedRecord(
        inference_id=str(metadata["inferenceId"]),
        time=datetime.strptime(metadata["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
        input=_payload(data.get("endpointInput")),
        output=_payload(data.get("endpointOutput")),
    )


def _payload(raw: dict[str, str] | None) -> CapturedPayload | None:
    if raw is None:
        return None
    text = raw["data"]
    data = base64.b64decode(text, validate=True) if raw["encoding"] == BASE64 else text.encode()
    return CapturedPayload(data, raw.get("observedContentType", ""))


def _why(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg} at column {exc.colno})"
    if isinstance(exc, KeyError):
        return f"not a capture record (no {exc.args[0]!r})"
    return f"not a capture record ({exc})"
