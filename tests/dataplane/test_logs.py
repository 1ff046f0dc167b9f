"""Endpoint logs through CloudWatch Logs' API: what real workers print, the tracebacks of
model errors and failed loads, a crash's last words, one stream per instance — read with
boto3, the AWS CLI as a subprocess, and `aws logs tail --follow`'s own call loop."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import client
from tests.dataplane_fixtures import Models
from tests.dataplane_support import wait_until

TALKATIVE_MODEL = """
    import os, sys

    def model_fn(model_dir):
        print("loading the talkative model")
        return None

    def predict_fn(data, model):
        if data == ["divide"]:
            return [1 / 0]
        if data == ["die"]:
            print("last words before the crash", flush=False)
            sys.stdout.write("written, not flushed\\n")
            os._exit(1)
        print(f"predicting {data}", file=sys.stderr)
        return data
"""


def _logs(models: Models) -> Any:
    return client(models.server.url, "logs")


def _messages(logs: Any, group: str, **kwargs: Any) -> list[str]:
    events = logs.filter_log_events(logGroupName=group, **kwargs)["events"]
    return [event["message"] for event in events]


def test_worker_output_and_model_errors_reach_one_stream_per_instance(models: Models) -> None:
    endpoint = models.endpoint(models.model(TALKATIVE_MODEL), count=2)
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    logs = _logs(models)
    models.invoke(endpoint, ["hello"])
    with pytest.raises(ClientError) as caught:
        models.invoke(endpoint, ["divide"])
    error = caught.value.response
    # The ModelError points at the log group, and the group exists.
    assert error["LogStreamArn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{group}"
    groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]
    assert "CloudWatch Logs" not in error["Error"]["Message"] or group in error["Error"]["Message"]

    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 2
    assert all(s["logStreamName"].startswith("AllTraffic/i-") for s in streams)
    assert all(s["arn"].endswith(f":log-stream:{s['logStreamName']}") for s in streams)
    for stream in streams:
        lines = [e["message"] for e in logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True,
        )["events"]]  # fmt: skip
        assert "loading the talkative model" in lines
        assert any(line.startswith("Model loaded from") for line in lines)
    wait_until(lambda: "predicting ['hello']" in _messages(logs, group))
    traceback = wait_until(
        lambda: _messages(logs, group, filterPattern="?Traceback ?ZeroDivisionError")
    )
    assert any("ZeroDivisionError: division by zero" in line for line in traceback)
    assert any(line.startswith("Traceback") for line in traceback)
    # Terms are ANDed, phrases quoted, exclusions subtracted.
    assert _messages(logs, group, filterPattern="\"predicting ['hello']\" -nothing") == [
        "predicting ['hello']"
    ]
    assert _messages(logs, group, filterPattern="predicting -hello") == []


def test_a_crash_loses_nothing_the_worker_wrote(models: Models) -> None:
    endpoint = models.endpoint(models.model(TALKATIVE_MODEL))
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    with pytest.raises(ClientError) as crashed:
        models.invoke(endpoint, ["die"])
    assert crashed.value.response["Error"]["Code"] == "ModelError"
    lines = wait_until(lambda: (found := _messages(_logs(models), group))
                       and "written, not flushed" in found and found)  # fmt: skip
    assert "last words before the crash" in lines


def test_a_failed_load_leaves_its_traceback(models: Models) -> None:
    source = """
        def model_fn(model_dir):
            raise ValueError("weights are corrupt")
    """
    endpoint = models.endpoint(models.model(source), wait=False)
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    wait_until(lambda: models.sagemaker.describe_endpoint(EndpointName=endpoint)[
        "EndpointStatus"] == "Failed", timeout=60)  # fmt: skip
    lines = _messages(_logs(models), group)
    assert any("ValueError: weights are corrupt" in line for line in lines), lines
    assert any(line.startswith("Traceback") for line in lines), lines


def test_tail_follow_call_loop_sees_each_new_line_once(models: Models) -> None:
    """`aws logs tail GROUP --follow` (AWS CLI v2, not on PyPI) polls FilterLogEvents with
    interleaved=True from the newest timestamp it has seen and drops events whose eventId it
    has already printed. Its loop, with boto3."""
    endpoint = models.endpoint(models.model(TALKATIVE_MODEL))
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    logs = _logs(models)
    seen: dict[str, str] = {}
    arguments: dict[str, Any] = {"logGroupName": group, "interleaved": True,
                                 "startTime": int((time.time() - 600) * 1000)}  # fmt: skip

    def poll() -> list[str]:
        fresh = []
        while True:
            response = logs.filter_log_events(**arguments)
            for event in response["events"]:
                if event["eventId"] not in seen:
                    seen[event["eventId"]] = event["message"]
                    fresh.append(event["message"])
            if "nextToken" not in response:
                break
            arguments["nextToken"] = response["nextToken"]
        arguments.pop("nextToken", None)
        if response["events"]:
            arguments["startTime"] = max(e["timestamp"] for e in response["events"])
        return fresh

    first = wait_until(lambda: (lines := poll()) and lines)
    assert "loading the talkative model" in first + list(seen.values())
    models.invoke(endpoint, ["again"])
    later = wait_until(lambda: [line for line in poll() if "again" in line])
    assert later == ["predicting ['again']"]
    assert poll() == []
    assert list(seen.values()).count("predicting ['again']") == 1


def test_aws_cli_reads_endpoint_logs(models: Models) -> None:
    endpoint = models.endpoint(models.model(TALKATIVE_MODEL))
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    models.invoke(endpoint, ["from-the-cli"])

    def aws(*args: str) -> Any:
        completed = subprocess.run(
            [sys.executable, "-m", "awscli", "logs", *args, "--endpoint-url", models.server.url],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout)

    found = wait_until(lambda: aws("filter-log-events", "--log-group-name", group,
                                   "--filter-pattern", "from-the-cli")["events"])  # fmt: skip
    assert [event["message"] for event in found] == ["predicting ['from-the-cli']"]
    (stream,) = aws("describe-log-streams", "--log-group-name", group)["logStreams"]
    events = aws("get-log-events", "--log-group-name", group,
                 "--log-stream-name", stream["logStreamName"])["events"]  # fmt: skip
    assert events[-1]["message"] == "predicting ['from-the-cli']"


def test_bad_log_requests_get_cloudwatch_logs_errors(models: Models) -> None:
    endpoint = models.endpoint(models.model(TALKATIVE_MODEL))
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    logs = _logs(models)
    cases = [
        (lambda: logs.filter_log_events(logGroupName="/aws/sagemaker/Endpoints/none"),
         "ResourceNotFoundException", "log group does not exist"),
        (lambda: logs.get_log_events(logGroupName=group, logStreamName="AllTraffic/nope"),
         "ResourceNotFoundException", "log stream does not exist"),
        (lambda: logs.filter_log_events(logGroupName=group, filterPattern='{ $.level = "x" }'),
         "InvalidParameterException", "JSON"),
        (lambda: logs.filter_log_events(logGroupName=group, nextToken="garbage"),
         "InvalidParameterException", "nextToken"),
        (lambda: logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="All",
                                           orderBy="LastEventTime"),
         "InvalidParameterException", "Cannot order by LastEventTime"),
        (lambda: logs.filter_log_events(logGroupName=group, limit=20_000),
         "InvalidParameterException", "less than or equal to 10000"),
    ]  # fmt: skip
    for call, code, words in cases:
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == code
        assert words in caught.value.response["Error"]["Message"]


def test_the_v3_sdks_deploy_loop_calls(models: Models) -> None:
    """SageMaker SDK v3's ModelBuilder.deploy() checks it may read logs, then follows the
    endpoint's log group while it waits (sagemaker.serve.deployment_progress). Its calls,
    with boto3: before the group exists, and after."""
    logs = _logs(models)
    endpoint = f"ep-{uuid.uuid4().hex[:10]}"
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    with pytest.raises(ClientError) as caught:
        logs.filter_log_events(logGroupName=group, logStreamNamePrefix="AllTraffic/")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    created = models.endpoint(models.model(TALKATIVE_MODEL))
    paginator = logs.get_paginator("filter_log_events")
    pages = paginator.paginate(
        logGroupName=f"/aws/sagemaker/Endpoints/{created}", logStreamNamePrefix="AllTraffic/",
        PaginationConfig={"MaxItems": 10_000, "PageSize": 5_000},
    )  # fmt: skip
    messages = [event["message"] for page in pages for event in page["events"]]
    assert "loading the talkative model" in messages
