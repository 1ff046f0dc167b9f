"""`shadowserve report NAME --from-capture`: the output comparison rebuilt from the captured
records in S3 (moto's server), so a tolerance set after the fact applies to traffic already
seen; unreadable capture lines are named, not fatal; settings that can't be parsed are
refused where they are set."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from tests.dataplane.test_metrics_report import (
    LABEL_MODEL,
    STEADY,
    _paced_traffic,
    _report,
    _settled,
)
from tests.dataplane_fixtures import Models
from tests.dataplane_support import wait_until


def _captured(s3: Any, prefix: str) -> int:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="capture", Prefix=prefix)
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return sum(
        len(s3.get_object(Bucket="capture", Key=key)["Body"].read().splitlines()) for key in keys
    )


def shadowserve(models: Models, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`shadowserve COMMAND ARGS --url SERVER` as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "shadowserve.cli", command, *args, "--url", models.server.url],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip


def _cli(models: Models, *args: str) -> subprocess.CompletedProcess[str]:
    return shadowserve(models, "report", *args)


def test_a_tolerance_set_later_applies_to_captured_traffic(models: Models, s3_url: str) -> None:
    prefix = f"fc-{uuid.uuid4().hex[:8]}"
    production = models.model(LABEL_MODEL, environment=STEADY)
    shadow = models.model(LABEL_MODEL, environment=STEADY | {"OFFSET": "0.001"})
    endpoint = models.endpoint(production)
    experiment = models.experiment(
        endpoint, production, shadow,
        DataStorageConfig={"Destination": f"s3://capture/{prefix}",
                           "ContentType": {"JsonContentTypes": ["application/json"]}},
    )  # fmt: skip
    _paced_traffic(models, endpoint, 120)
    live = _settled(models, experiment, 120)
    score = next(f for f in live["comparison"]["outputs"]["fields"] if f["kind"] == "score")
    assert score["agreement"]["rate"] == 0.0  # 0.001 apart, tolerance 1e-6
    s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1")
    wait_until(lambda: _captured(s3, prefix) >= 240, timeout=60)
    s3.put_object(Bucket="capture", Key=f"{prefix}/{endpoint}/shadow/2026/01/01/00/junk.jsonl",
                  Body=b'{"captureData": {}}\nnot json at all\n')  # fmt: skip

    found = _cli(models, experiment, "--from-capture", "--tolerance", "0.01", "--json")
    assert found.returncode == 0, found.stderr
    report = json.loads(found.stdout)
    assert report["source"]["pairs"] == 120 and report["source"]["kind"] == "capture"
    rebuilt = next(f for f in report["comparison"]["outputs"]["fields"] if f["kind"] == "score")
    assert rebuilt["agreement"]["rate"] == 1.0
    assert report["comparison"]["output_agreement"]["rate"] == 1.0
    junk = [w for w in report["warnings"] if "junk.jsonl" in w]
    assert any("line 1: not a capture record (no 'eventMetadata')" in w for w in junk), junk
    assert any("line 2: not JSON" in w for w in junk), junk
    # Latency and errors still come from the stored aggregates.
    for role in ("production", "shadow"):
        assert report["variants"][role]["invocations"] == live["variants"][role]["invocations"]
    latency = "latency_ratio_median"
    assert report["comparison"][latency] == live["comparison"][latency]

    table = _cli(models, experiment, "--from-capture", "--tolerance", "0.01")
    assert table.returncode == 0, table.stderr
    assert "Outputs compared from capture: " in table.stdout
    # Without --from-capture the tolerance cannot reach pairs already compared: said so.
    stored = _report(models, experiment, tolerance="0.01")
    assert any("--from-capture" in warning for warning in stored["warnings"])


def test_an_experiment_without_capture_says_so(models: Models) -> None:
    production = models.model(LABEL_MODEL)
    endpoint = models.endpoint(production)
    experiment = models.experiment(endpoint, production, models.model(LABEL_MODEL))
    found = _cli(models, experiment, "--from-capture")
    assert found.returncode != 0
    assert "has no DataStorageConfig: nothing was captured" in found.stderr


def test_comparison_settings_that_cannot_be_parsed_are_refused(models: Models) -> None:
    production = models.model(LABEL_MODEL)
    endpoint = models.endpoint(production)
    with pytest.raises(ClientError) as raised:
        models.experiment(
            endpoint, production, models.model(LABEL_MODEL),
            Tags=[{"Key": "shadowserve:compare-mode", "Value": "strict"}],
        )  # fmt: skip
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "Tag shadowserve:compare-mode: Unknown compare mode 'strict'" in error["Message"]
    experiment = models.experiment(endpoint, production, models.model(LABEL_MODEL))
    arn = models.sagemaker.describe_inference_experiment(Name=experiment)["Arn"]
    with pytest.raises(ClientError) as raised:
        models.sagemaker.add_tags(
            ResourceArn=arn, Tags=[{"Key": "shadowserve:ignore", "Value": "request_id"}]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "must start with '/'" in raised.value.response["Error"]["Message"]
    bad = httpx.get(f"{models.server.url}/api/experiments/{experiment}/report",
                    params={"tolerance": "/x=lots"})  # fmt: skip
    assert bad.status_code == 400 and "is not a number" in bad.json()["message"]
    flag = _cli(models, experiment, "--compare-mode", "strict")
    assert flag.returncode == 2 and "'strict' is not one of" in flag.stderr
