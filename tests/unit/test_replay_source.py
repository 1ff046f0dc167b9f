"""The replay's window over captured records, whose inferenceTime has whole seconds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from shadowserve.objectstore import LocalObjectStore
from shadowserve.services.replay_source import ReplaySource, SourceStats, exchanges


def _record(inference_id: str, time: str) -> str:
    payload = {"observedContentType": "application/json", "mode": "INPUT", "data": "[1]",
               "encoding": "JSON"}  # fmt: skip
    return json.dumps({
        "captureData": {"endpointInput": payload, "endpointOutput": payload | {"mode": "OUTPUT"}},
        "eventMetadata": {"eventId": inference_id, "inferenceTime": time,
                          "inferenceId": inference_id},
        "eventVersion": "0",
    })  # fmt: skip


def test_a_window_starting_inside_a_second_keeps_that_seconds_records(tmp_path: Path) -> None:
    folder = tmp_path / "capture" / "p" / "ep" / "AllTraffic" / "2026" / "12" / "02" / "01"
    folder.mkdir(parents=True)
    times = {"early": "01:50:11", "same-second": "01:50:12", "later": "01:50:13"}
    lines = [_record(name, f"2026-12-02T{clock}Z") for name, clock in times.items()]
    (folder / "50-12-000-file.jsonl").write_text("\n".join(lines) + "\n")
    # The experiment started at 01:50:12.700; its first request was captured as 01:50:12.
    start = datetime(2026, 12, 2, 1, 50, 12, 700_000, tzinfo=UTC)
    source = ReplaySource("s3://capture/p", "ep", ("AllTraffic",), start, None, None)
    found = [e.inference_id for e in exchanges(LocalObjectStore(tmp_path), source, SourceStats())]
    assert found == ["same-second", "later"]
