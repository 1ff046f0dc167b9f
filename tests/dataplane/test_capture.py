"""Data capture as S3 (moto's server) sees it: SageMaker's record format and layout,
SSE-KMS on every put, the flush on shutdown, and a sink that goes away and comes back."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from shadowserve.cli.server_process import ServerProcess
from tests.capture_reader import CapturedRecord, read_capture_file
from tests.conftest import FAST, client
from tests.dataplane_fixtures import Models
from tests.dataplane_support import SCALING_MODEL, MotoServer, metric, model_archive, wait_until

KEY_PATTERN = (
    r"{prefix}/{endpoint}/{variant}/\d{{4}}/\d{{2}}/\d{{2}}/\d{{2}}/"
    r"\d{{2}}-\d{{2}}-\d{{3}}-[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-"
    r"[0-9a-f]{{12}}\.jsonl"
)


def _objects(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _records(s3: Any, bucket: str, keys: list[str]) -> list[CapturedRecord]:
    records: list[CapturedRecord] = []
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        records += read_capture_file(body)
    return records


def test_experiment_capture_of_both_legs(models: Models) -> None:
    production = models.model(environment={"SCALE": "2"})
    shadow = models.model(environment={"SCALE": "3"})
    endpoint = models.endpoint(production)
    prefix = f"exp-{endpoint}"
    models.experiment(
        endpoint, production, shadow,
        DataStorageConfig={
            "Destination": f"s3://capture/{prefix}", "KmsKey": "alias/capture-key",
            "ContentType": {"CsvContentTypes": ["text/csv"],
                            "JsonContentTypes": ["application/json"]},
        },
    )  # fmt: skip
    models.invoke(endpoint, [1], InferenceId="json-1")
    time.sleep(0.05)
    models.runtime.invoke_endpoint(
        EndpointName=endpoint, Body=b"2\n", ContentType="text/csv; charset=utf-8",
        Accept="text/csv", InferenceId="csv-1",
    )  # fmt: skip
    time.sleep(0.05)
    models.invoke(endpoint, [3])  # no InferenceId: a generated one joins the legs

    def complete() -> list[str] | None:
        keys = _objects(models.s3, "capture", prefix + "/")
        records = _records(models.s3, "capture", keys)
        return keys if len(records) == 6 else None

    keys = wait_until(complete, timeout=30)
    for key in keys:
        variant = key.split("/")[2]
        pattern = KEY_PATTERN.format(prefix=prefix, endpoint=endpoint, variant=variant)
        assert re.fullmatch(pattern, key), key
        head = models.s3.head_object(Bucket="capture", Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"].endswith("alias/capture-key")
    by_variant: dict[str, list[CapturedRecord]] = {}
    for key in keys:
        by_variant.setdefault(key.split("/")[2], []).extend(_records(models.s3, "capture", [key]))
    assert set(by_variant) == {"AllTraffic", "shadow"}
    legs = {v: {r.inference_id: r for r in records} for v, records in by_variant.items()}
    assert legs["AllTraffic"].keys() == legs["shadow"].keys()  # the join
    assert {"json-1", "csv-1"} <= legs["AllTraffic"].keys()
    prod, shad = legs["AllTraffic"]["json-1"], legs["shadow"]["json-1"]
    assert prod.input == shad.input
    assert prod.input is not None and prod.input.encoding == "JSON"
    assert json.loads(prod.input.raw) == [1]
    assert prod.output is not None and shad.output is not None
    assert (json.loads(prod.output.raw), json.loads(shad.output.raw)) == ([2.0], [3.0])
    csv_prod = legs["AllTraffic"]["csv-1"]
    assert csv_prod.input is not None and csv_prod.output is not None
    assert (csv_prod.input.encoding, csv_prod.input.raw) == ("CSV", b"2\n")
    assert csv_prod.input.content_type == "text/csv; charset=utf-8"
    assert csv_prod.output.encoding == "CSV"
    assert prod.event_id != shad.event_id


def test_endpoint_capture_config_sampling_modes_and_base64(models: Models) -> None:
    model = models.model(environment={"SCALE": "2"})
    name = f"capcfg-{model}"
    models.sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "v", "ModelName": model, "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large"}],
        DataCaptureConfig={
            "EnableCapture": True, "InitialSamplingPercentage": 50,
            "DestinationS3Uri": f"s3://capture/{name}",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    )  # fmt: skip
    models.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    models.wait_in_service(name)
    ids = [f"id-{i}" for i in range(40)]
    for inference_id in ids:
        models.invoke(name, [1], InferenceId=inference_id)
    time.sleep(3)
    records = _records(models.s3, "capture", _objects(models.s3, "capture", name + "/"))
    captured = {r.inference_id for r in records}
    assert 5 < len(captured) < 35  # about half, decided per inference id
    assert captured <= set(ids)
    for record in records:
        assert record.output is None  # CaptureMode Input only
        assert record.input is not None
        # No CaptureContentTypeHeader: SageMaker base64-encodes everything.
        assert (record.input.encoding, record.input.raw) == ("BASE64", b"[1]")


def _own_server(data_dir: Path, s3_url: str, *extra: str) -> ServerProcess:
    args = [*FAST, "--s3-endpoint-url", s3_url, *extra]
    return ServerProcess(data_dir, extra_args=args).start()


def _deploy_with_capture(server: ServerProcess, s3: Any) -> Any:
    s3.put_object(Bucket="models", Key="m.tar.gz", Body=model_archive(SCALING_MODEL))
    sagemaker = client(server.url)
    sagemaker.create_model(
        ModelName="m", PrimaryContainer={"Image": "x", "ModelDataUrl": "s3://models/m.tar.gz"}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[{"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large"}],
        DataCaptureConfig={
            "InitialSamplingPercentage": 100, "DestinationS3Uri": "s3://capture/own",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        },
    )  # fmt: skip
    sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName="ep", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    return client(server.url, "sagemaker-runtime")


def _s3(url: str) -> Any:
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    s3.create_bucket(Bucket="capture")
    return s3


def _invoke(runtime: Any, count: int, start: int = 0) -> None:
    for index in range(start, start + count):
        runtime.invoke_endpoint(
            EndpointName="ep", Body=json.dumps([index]), ContentType="application/json",
            InferenceId=f"r-{index}",
        )  # fmt: skip


def test_shutdown_flushes_every_buffered_record(tmp_path: Path) -> None:
    moto = MotoServer().start()
    try:
        s3 = _s3(moto.url)
        # Files would only be written after an hour: everything waits in memory until stop.
        server = _own_server(tmp_path / "d", moto.url, "--capture-flush-seconds", "3600")
        runtime = _deploy_with_capture(server, s3)
        _invoke(runtime, 25)
        assert _objects(s3, "capture", "own/") == []
        assert server.stop() == 0
        records = _records(s3, "capture", _objects(s3, "capture", "own/"))
        assert sorted(r.inference_id or "" for r in records) == sorted(f"r-{i}" for i in range(25))
    finally:
        moto.stop()


def test_capture_survives_the_sink_going_away(tmp_path: Path) -> None:
    moto = MotoServer().start()
    server = None
    try:
        s3 = _s3(moto.url)
        server = _own_server(
            tmp_path / "d", moto.url,
            "--capture-flush-seconds", "0.5", "--capture-max-buffered-records", "30",
        )  # fmt: skip
        runtime = _deploy_with_capture(server, s3)
        _invoke(runtime, 5)
        wait_until(lambda: len(_records(s3, "capture", _objects(s3, "capture", "own/"))) == 5)
        moto.stop()
        started = time.monotonic()
        _invoke(runtime, 50, start=100)  # S3 is down: requests are untouched
        assert time.monotonic() - started < 20
        wait_until(lambda: metric(server.url, "shadowserve_capture_upload_failures_total") > 0)

        def dropped() -> float:
            return metric(server.url, "shadowserve_capture_records_total",
                          endpoint="ep", variant="v", outcome="dropped")  # fmt: skip

        # The writer may still hold events when its first upload fails (a slow machine):
        # wait for it to have seen them all, then the count is exact.
        wait_until(lambda: dropped() >= 20)
        assert dropped() == 20  # 30 fit in the buffer
        moto.start()  # back, empty: moto keeps its state in memory
        s3 = _s3(moto.url)

        def recovered() -> list[CapturedRecord] | None:
            records = _records(s3, "capture", _objects(s3, "capture", "own/"))
            return records if len(records) == 30 else None

        records = wait_until(recovered, timeout=30)
        assert {r.inference_id for r in records} <= {f"r-{i}" for i in range(100, 150)}
        _invoke(runtime, 3, start=200)
        wait_until(lambda: len(_records(s3, "capture", _objects(s3, "capture", "own/"))) == 33)
    finally:
        if server is not None:
            server.stop()
        moto.stop()


@pytest.fixture(autouse=True)
def _quiet_boto(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="botocore")
