"""InvokeEndpointWithResponseStream with real workers, read by boto3's EventStream: chunks
arrive as the model yields them; the shadow gets the copy, its whole stream is captured and
compared; production's stream never waits for it; errors before and after the first byte."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, EventStreamError

from tests.dataplane_fixtures import Models
from tests.dataplane_support import wait_until

STREAMING_MODEL = """
    import os, pathlib, time

    def model_fn(model_dir):
        return None

    def predict_fn(data, model):
        gate = os.environ.get("WAIT_FOR")
        if gate:  # a shadow held back until the test lets it go
            while not pathlib.Path(gate).exists():
                time.sleep(0.02)
        if data.get("fail_now"):
            raise RuntimeError("no tokens today")
        return tokens(data)

    def tokens(data):
        for index, word in enumerate(data["prompt"].split()):
            if data.get("fail_after") == index:
                raise RuntimeError("the model broke mid-sentence")
            if index == 1 and data.get("hold_after_first"):  # the rest waits for the test
                while not pathlib.Path(data["hold_after_first"]).exists():
                    time.sleep(0.02)
            yield word + " "
"""


def _stream(models: Models, endpoint: str, payload: dict[str, Any], **kwargs: Any) -> Any:
    return models.runtime.invoke_endpoint_with_response_stream(
        EndpointName=endpoint, Body=json.dumps(payload), ContentType="application/json",
        **kwargs,
    )  # fmt: skip


def _parts(response: Any) -> list[bytes]:
    return [event["PayloadPart"]["Bytes"] for event in response["Body"]]


def test_chunks_arrive_as_payload_parts(models: Models, tmp_path: Path) -> None:
    endpoint = models.endpoint(models.model(STREAMING_MODEL))
    hold = tmp_path / "go-on"
    payload = {"prompt": "the quick brown fox", "hold_after_first": str(hold)}
    response = _stream(models, endpoint, payload, InferenceId="s-1")
    assert response["ContentType"] == "text/plain; charset=utf-8"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["ResponseMetadata"]["RequestId"]
    events = iter(response["Body"])
    # The first token arrives while the model is still held before the second: streamed,
    # not buffered.
    assert next(events)["PayloadPart"]["Bytes"] == b"the "
    hold.touch()
    rest = [event["PayloadPart"]["Bytes"] for event in events]
    assert b"".join(rest) == b"quick brown fox "
    # The production leg's event holds the whole stream.
    event = wait_until(lambda: [e for e in models.events(endpoint) if e["inferenceId"] == "s-1"])
    assert event[0]["responseSha256"] == hashlib.sha256(b"the quick brown fox ").hexdigest()
    # Plain InvokeEndpoint on the same model gets the whole answer at once.
    body = models.runtime.invoke_endpoint(
        EndpointName=endpoint, Body=json.dumps({"prompt": "a b"}), ContentType="application/json"
    )["Body"].read()
    assert body == b"a b "


def test_errors_before_and_after_the_first_byte(models: Models) -> None:
    endpoint = models.endpoint(models.model(STREAMING_MODEL))
    with pytest.raises(ClientError) as caught:
        _stream(models, endpoint, {"prompt": "x", "fail_now": True})
    assert caught.value.response["Error"]["Code"] == "ModelError"
    assert "no tokens today" in caught.value.response["OriginalMessage"]
    response = _stream(models, endpoint, {"prompt": "one two three four", "fail_after": 2})
    received = []
    with pytest.raises(EventStreamError) as broke:
        for event in response["Body"]:
            received.append(event["PayloadPart"]["Bytes"])
    assert b"".join(received) == b"one two "
    assert broke.value.response["Error"]["Code"] == "ModelStreamError"
    assert "ended early" in broke.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        models.runtime.invoke_endpoint_with_response_stream(EndpointName="nowhere", Body=b"{}")
    assert caught.value.response["Error"]["Code"] == "ValidationError"


def test_the_shadow_streams_too_and_production_never_waits(models: Models, tmp_path: Path) -> None:
    gate = tmp_path / "let-the-shadow-go"
    production = models.model(STREAMING_MODEL)
    shadow = models.model(STREAMING_MODEL, environment={"WAIT_FOR": str(gate)})
    endpoint = models.endpoint(production)
    experiment = models.experiment(endpoint, production, shadow)
    prompts = [f"token {index} of a stream" for index in range(2)]
    for index, prompt in enumerate(prompts):
        # Each production stream ends while the shadow is still held at the gate.
        response = _stream(models, endpoint, {"prompt": prompt}, InferenceId=f"mirror-{index}")
        assert b"".join(_parts(response)) == (prompt + " ").encode()
    shadow_legs = [e for e in models.events(endpoint) if e["role"] == "shadow"]
    assert shadow_legs == []  # none has answered yet: production did not wait for them
    gate.touch()
    wait_until(lambda: len([e for e in models.events(endpoint) if e["role"] == "shadow"]) == 2)

    def report() -> dict[str, Any]:
        url = f"{models.server.url}/api/experiments/{experiment}/report"
        found: dict[str, Any] = httpx.get(url, timeout=30).json()
        return found

    settled = wait_until(lambda: (r := report())["comparison"]["pairs"] == 2 and r, timeout=30)
    assert settled["comparison"]["output_agreement"]["rate"] == 1.0
    (field,) = settled["comparison"]["outputs"]["fields"]
    assert field["kind"] == "text", field
