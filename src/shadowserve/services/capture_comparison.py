"""The output comparison rebuilt from captured records: both legs of each request joined by
inference id and compared with the settings in force now. Streams the files in time order
and keeps only legs still waiting for their other half, so memory stays bounded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shadowserve.capture.reader import (
    CapturedPayload,
    Unreadable,
    UnreadableRecord,
    capture_files,
    read_records,
)
from shadowserve.comparison.aggregate import OutputAggregate
from shadowserve.comparison.outputs import parse_output
from shadowserve.comparison.settings import CompareSettings
from shadowserve.objectstore import ObjectStore, ObjectStoreError

MAX_WAITING = 100_000  # legs waiting for their other half; the oldest go first beyond this
SLACK = timedelta(minutes=1)  # inference times have whole seconds


@dataclass(frozen=True)
class CaptureScope:
    destination: str
    endpoint: str
    production: str  # variant names
    shadow: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Progress:
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    records: int


@dataclass
class CaptureComparison:
    outputs: OutputAggregate = field(default_factory=OutputAggregate)
    files: int = 0
    records: int = 0
    pairs: int = 0
    unjoined: int = 0  # legs whose other half was never captured (sampling, lost, window)
    unreadable: Unreadable = field(default_factory=Unreadable)


def compare_capture(
    store: ObjectStore, scope: CaptureScope, settings: CompareSettings
) -> Iterator[Progress | CaptureComparison]:
    """Progress after every file, then the comparison."""
    files = capture_files(store, scope.destination, scope.endpoint,
                          [scope.production, scope.shadow])  # fmt: skip
    result = CaptureComparison(files=len(files))
    total_bytes = sum(file.stored.size for file in files)
    waiting: dict[str, tuple[str, CapturedPayload]] = {}
    done_bytes = 0
    for number, file in enumerate(files, start=1):
        try:
            for record in read_records(store, file):
                if isinstance(record, UnreadableRecord):
                    result.unreadable.add(str(record))
                    continue
                in_window = scope.start - SLACK <= record.time <= scope.end + SLACK
                if record.output is None or not in_window:
                    continue
                result.records += 1
                _join(result, waiting, file.variant, record.inference_id, record.output, scope,
                      settings)  # fmt: skip
        except ObjectStoreError as exc:
            result.unreadable.add(f"{file.stored.uri}: {exc}")
        done_bytes += file.stored.size
        yield Progress(number, len(files), done_bytes, total_bytes, result.records)
    result.unjoined += len(waiting)
    yield result


def _join(
    result: CaptureComparison,
    waiting: dict[str, tuple[str, CapturedPayload]],
    variant: str,
    inference_id: str,
    output: CapturedPayload,
    scope: CaptureScope,
    settings: CompareSettings,
) -> None:
    other = waiting.get(inference_id)
    if other is None or other[0] == variant:
        if len(waiting) >= MAX_WAITING:
            del waiting[next(iter(waiting))]
            result.unjoined += 1
        waiting[inference_id] = (variant, output)
        return
    del waiting[inference_id]
    production, shadow = (output, other[1]) if variant == scope.production else (other[1], output)
    result.pairs += 1
    result.outputs.add_pair(
        parse_output(production.data, production.content_type),
        parse_output(shadow.data, shadow.content_type),
        settings,
    )
