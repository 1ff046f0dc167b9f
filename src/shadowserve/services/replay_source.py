"""The production requests a replay sends: captured records (request and production's
answer) of an endpoint's or an experiment's production variant, within a time range, all of
them streamed in time order or a random sample of a given size."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from shadowserve.capture.reader import (
    CapturedPayload,
    Unreadable,
    UnreadableRecord,
    capture_files,
    read_records,
)
from shadowserve.objectstore import ObjectStore, ObjectStoreError

SAMPLE_SEED = 0  # the same sample on every run of the same replay


@dataclass(frozen=True)
class ReplaySource:
    destination: str
    endpoint: str
    variants: tuple[str, ...]  # production variants whose captured requests are replayed
    start: datetime | None
    end: datetime | None
    sample: int | None


@dataclass(frozen=True)
class CapturedExchange:
    inference_id: str
    request: CapturedPayload
    answer: CapturedPayload  # production's


@dataclass
class SourceStats:
    files: int = 0
    bytes_total: int = 0
    bytes_read: int = 0
    records: int = 0  # in the window
    without_request: int = 0  # captured without Input (CaptureOptions), so not replayable
    unreadable: Unreadable = field(default_factory=Unreadable)


def exchanges(
    store: ObjectStore, source: ReplaySource, stats: SourceStats
) -> Iterator[CapturedExchange]:
    """Every replayable exchange in the window, oldest first; ``stats`` fills as it goes."""
    files = capture_files(store, source.destination, source.endpoint, list(source.variants))
    # Captured inferenceTime has whole seconds (SageMaker's format): a window edge inside a
    # second must not drop the records of that second.
    start = source.start.replace(microsecond=0) if source.start else None
    stats.files = len(files)
    stats.bytes_total = sum(file.stored.size for file in files)
    for file in files:
        try:
            for record in read_records(store, file):
                if isinstance(record, UnreadableRecord):
                    stats.unreadable.add(str(record))
                    continue
                if (start and record.time < start) or (source.end and record.time > source.end):
                    continue
                if record.output is None:
                    continue
                stats.records += 1
                if record.input is None:
                    stats.without_request += 1
                    continue
                yield CapturedExchange(record.inference_id, record.input, record.output)
        except ObjectStoreError as exc:
            stats.unreadable.add(f"{file.stored.uri}: {exc}")
        stats.bytes_read += file.stored.size


class Reservoir:
    """A uniform random sample of ``size`` exchanges in one pass, keeping only ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.kept: list[CapturedExchange] = []
        self._seen = 0
        self._rng = random.Random(SAMPLE_SEED)

    def offer(self, exchange: CapturedExchange) -> None:
        if self._seen < self.size:
            self.kept.append(exchange)
        else:
            slot = self._rng.randint(0, self._seen)
            if slot < self.size:
                self.kept[slot] = exchange
        self._seen += 1
