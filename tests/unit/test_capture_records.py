"""Capture records: encodings by content type, capture modes, and the S3 layout."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

from shadowserve.capture.records import (
    TEXT_PIECE,
    append_record,
    encoding_for,
    object_location,
)
from shadowserve.domain.arns import Scope
from shadowserve.domain.resources import CaptureContentTypeHeader, DataCaptureConfig
from shadowserve.events.invocations import InvocationEvent, Role
from tests.capture_reader import read_capture_file

HEADER = CaptureContentTypeHeader(
    csv_content_types=["text/csv"], json_content_types=["application/json"]
)


def _config(
    modes: list[str], header: CaptureContentTypeHeader | None = HEADER
) -> DataCaptureConfig:
    return DataCaptureConfig.model_validate({
        "DestinationS3Uri": "s3://bucket/prefix", "InitialSamplingPercentage": 100,
        "CaptureOptions": [{"CaptureMode": m} for m in modes],
        "CaptureContentTypeHeader": header.model_dump() if header else None,
    })  # fmt: skip


def _event(body: bytes, content_type: str, response: bytes, response_type: str) -> InvocationEvent:
    return InvocationEvent(
        scope=Scope("123456789012", "us-east-1"), endpoint_name="ep", variant_name="v",
        role=Role.PRODUCTION, experiment_name=None, inference_id="id-1",
        inference_id_from_caller=True, request_body=body, request_content_type=content_type,
        accept=None, response_body=response, response_content_type=response_type, status=200,
        model_latency_us=1, overhead_latency_us=1, error_kind=None,
        time=datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC),
    )  # fmt: skip


def _line(event: InvocationEvent, config: DataCaptureConfig) -> str:
    out = bytearray()
    append_record(out, event, config)
    return out.decode("ascii")


def test_encodings_follow_the_listed_content_types() -> None:
    assert encoding_for("text/csv; charset=utf-8", HEADER) == "CSV"
    assert encoding_for("Application/JSON", HEADER) == "JSON"
    assert encoding_for("application/x-npy", HEADER) == "BASE64"
    assert encoding_for("text/csv", None) == "BASE64"  # no header: everything is base64


def test_a_record_reads_back_with_the_documented_reader() -> None:
    event = _event(b"1,2\n", "text/csv", b'{"p": 0.5}', "application/json")
    (record,) = read_capture_file(_line(event, _config(["Input", "Output"])))
    assert record.inference_id == "id-1"
    assert record.inference_time == datetime(2026, 3, 4, 5, 6, 7)
    assert record.input is not None and record.output is not None
    assert (record.input.encoding, record.input.raw) == ("CSV", b"1,2\n")
    assert (record.output.encoding, record.output.raw) == ("JSON", b'{"p": 0.5}')
    assert record.input.content_type == "text/csv"


def test_binary_and_undecodable_payloads_are_base64() -> None:
    event = _event(b"\xff\xfe", "text/csv", b"\x93NUMPY", "application/x-npy")
    (record,) = read_capture_file(_line(event, _config(["Input", "Output"])))
    assert record.input is not None and record.output is not None
    assert (record.input.encoding, record.input.raw) == ("BASE64", b"\xff\xfe")
    assert (record.output.encoding, record.output.raw) == ("BASE64", b"\x93NUMPY")


def test_capture_modes_choose_the_sides() -> None:
    event = _event(b"[1]", "application/json", b"[2]", "application/json")
    only_input = json.loads(_line(event, _config(["Input"])))
    assert set(only_input["captureData"]) == {"endpointInput"}
    only_output = json.loads(_line(event, _config(["Output"])))
    assert set(only_output["captureData"]) == {"endpointOutput"}


def test_payloads_encoded_in_pieces_are_what_one_json_dumps_writes() -> None:
    # Text longer than a piece, not a multiple of one, with escapes and non-ASCII text across
    # the pieces' edges.
    text = ('{"label": "caf\u00e9 \\ "quoted"\n", "p": [0.25, 0.75]} ' * 3000).encode()
    binary = bytes(range(256)) * 1001
    assert len(text.decode()) > 2 * TEXT_PIECE
    event = _event(text, "application/json", binary, "application/x-npy")
    line = _line(event, _config(["Input", "Output"]))
    assert line.endswith("\n") and line.count("\n") == 1
    record = json.loads(line)
    assert line == json.dumps(record, separators=(",", ":")) + "\n"  # json.dumps' own bytes
    (read,) = read_capture_file(line)
    assert read.input is not None and read.output is not None
    assert (read.input.encoding, read.input.raw) == ("JSON", text)
    assert (read.output.encoding, read.output.raw) == ("BASE64", binary)


def test_object_layout() -> None:
    first = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    location = object_location("s3://bucket/some/prefix/", "ep", "AllTraffic", first)
    assert location.bucket == "bucket"
    assert re.fullmatch(
        r"some/prefix/ep/AllTraffic/2026/03/04/05/06-07-890-[0-9a-f-]{36}\.jsonl", location.key
    )
    assert object_location("s3://bucket", "ep", "v", first).key.startswith("ep/v/2026/")


def test_text_payloads_of_every_character_are_escaped_as_json_dumps_escapes_them() -> None:
    # Every ASCII character (control characters and DEL among them), over several pieces,
    # and the same with non-ASCII text mixed in: two ways through the escaping.
    ascii_text = "".join(chr(c) for c in range(128)) * (2 * TEXT_PIECE // 128 + 1)
    for text in (ascii_text, ascii_text.replace("\x7f", ""), ascii_text + "caf\u00e9 \u2603"):
        event = _event(text.encode(), "text/csv", text.encode(), "application/json")
        line = _line(event, _config(["Input", "Output"]))
        record = json.loads(line)
        assert line == json.dumps(record, separators=(",", ":")) + "\n"
        assert record["captureData"]["endpointInput"]["data"] == text
        assert record["captureData"]["endpointOutput"]["data"] == text


def test_every_string_is_escaped_as_json_dumps_escapes_it() -> None:
    # A caller's InferenceId and Content-Type reach the record as they were sent.
    event = replace(
        _event(b"caf\xc3\xa9", 'text/csv; x="q"', b"\x00", "application/x-npy"),
        inference_id='id "1" \\ caf\u00e9 \u2603\n',
    )
    line = _line(event, _config(["Input", "Output"]))
    record = json.loads(line)
    assert line == json.dumps(record, separators=(",", ":")) + "\n"
    assert record["eventMetadata"] == {"eventId": event.event_id,
                                       "inferenceTime": "2026-03-04T05:06:07Z",
                                       "inferenceId": event.inference_id}  # fmt: skip
    assert record["captureData"]["endpointInput"]["observedContentType"] == 'text/csv; x="q"'
