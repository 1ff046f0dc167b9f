"""CloudWatch's metric reads over known traffic, with the clients AWS's notebooks use: boto3
(awsJson 1.0, as current botocore speaks it), the AWS CLI as a subprocess, and an older
botocore's awsQuery wire. Each figure is checked against the live /metrics."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import client
from tests.dataplane_fixtures import Models, running_container_endpoint
from tests.dataplane_support import metric, wait_until
from tests.query_wire import query_call

STATUSES = [200] * 10 + [404] * 3 + [500] * 2


@pytest.fixture(scope="module")
def traffic(dp_server: Any, s3_url: str) -> Iterator[tuple[Models, str]]:
    """An endpoint that answered 15 requests: 10 OK, three 404s and two 500s, all flushed
    to the store."""
    models = Models(dp_server, s3_url)
    with running_container_endpoint(models, "cloudwatch-echo") as endpoint:
        for status in STATUSES:
            with contextlib.suppress(ClientError):
                models.invoke(endpoint, {"status": status})
        cloudwatch = client(models.server.url, "cloudwatch")
        wait_until(lambda: _sum(cloudwatch, endpoint, "Invocations") == len(STATUSES))
        yield models, endpoint


def _window() -> dict[str, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return {"StartTime": now - dt.timedelta(hours=1), "EndTime": now + dt.timedelta(minutes=5)}


def _dimensions(endpoint: str, variant: str = "AllTraffic") -> list[dict[str, str]]:
    return [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]


def _statistics(cloudwatch: Any, endpoint: str, name: str, **kwargs: Any) -> list[dict[str, Any]]:
    arguments = {"Period": 3600, "Statistics": ["Sum"], **_window(), **kwargs}
    arguments = {key: value for key, value in arguments.items() if value is not None}
    response = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName=name, Dimensions=_dimensions(endpoint),
        **arguments,
    )  # fmt: skip
    points: list[dict[str, Any]] = response["Datapoints"]
    return points


def _sum(cloudwatch: Any, endpoint: str, name: str) -> float:
    return sum(point["Sum"] for point in _statistics(cloudwatch, endpoint, name))


def _live(models: Models, endpoint: str, name: str) -> float:
    labels = {"endpoint": endpoint, "variant": "AllTraffic", "role": "production",
              "experiment": ""}  # fmt: skip
    return metric(models.server.url, f"shadowserve_{name}", **labels)


def test_statistics_match_the_live_metrics(traffic: tuple[Models, str]) -> None:
    models, endpoint = traffic
    cloudwatch = client(models.server.url, "cloudwatch")
    for name in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors",
                 "InvocationModelErrors", "InvocationsPerInstance"):  # fmt: skip
        assert _sum(cloudwatch, endpoint, name) == _live(models, endpoint, f"{name}_total")
    assert _sum(cloudwatch, endpoint, "Invocation4XXErrors") == 3
    # Error metrics are one 0-or-1 sample per invocation: their Average is the error rate.
    basic = ["Average", "SampleCount", "Minimum", "Maximum"]
    (errors,) = _statistics(cloudwatch, endpoint, "InvocationModelErrors", Statistics=basic)
    assert errors["Average"] == pytest.approx(5 / 15)
    assert (errors["SampleCount"], errors["Minimum"], errors["Maximum"]) == (15, 0, 1)
    assert errors["Unit"] == "None"

    (latency,) = _statistics(cloudwatch, endpoint, "ModelLatency",
                             Statistics=["Average", "SampleCount", "Sum", "Minimum", "Maximum"],
                             ExtendedStatistics=["p50", "p90", "p99"])  # fmt: skip
    assert latency["Unit"] == "Microseconds"
    assert latency["SampleCount"] == _live(models, endpoint, "ModelLatency_microseconds_count")
    assert latency["Sum"] == pytest.approx(_live(models, endpoint, "ModelLatency_microseconds_sum"))
    percentiles = latency["ExtendedStatistics"]
    assert latency["Minimum"] <= percentiles["p50"] <= percentiles["p90"] <= percentiles["p99"]
    assert percentiles["p99"] <= latency["Maximum"]
    assert latency["Minimum"] <= latency["Average"] <= latency["Maximum"]


def test_get_metric_data_and_list_metrics(traffic: tuple[Models, str]) -> None:
    models, endpoint = traffic
    cloudwatch = client(models.server.url, "cloudwatch")

    def stat(metric_name: str, statistic: str) -> dict[str, Any]:
        return {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric_name,
                           "Dimensions": _dimensions(endpoint)},
                "Period": 60, "Stat": statistic}  # fmt: skip

    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {"Id": "calls", "MetricStat": stat("Invocations", "Sum")},
            {"Id": "p99", "MetricStat": stat("ModelLatency", "p99"), "Label": "p99 latency"},
        ],
        **_window(),
    )
    calls, p99 = response["MetricDataResults"]
    assert (calls["Id"], calls["Label"], calls["StatusCode"]) == ("calls", "Invocations",
                                                                  "Complete")  # fmt: skip
    assert sum(calls["Values"]) == 15
    assert len(calls["Timestamps"]) == len(calls["Values"]) >= 1
    assert p99["Label"] == "p99 latency" and all(value > 0 for value in p99["Values"])

    # A page of one datapoint at a time still returns them all.
    seen, token = 0.0, None
    for _ in range(10):
        page = cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "calls", "MetricStat": stat("Invocations", "Sum")}],
            MaxDatapoints=1, **_window(), **({"NextToken": token} if token else {}),
        )  # fmt: skip
        seen += sum(page["MetricDataResults"][0]["Values"])
        token = page.get("NextToken")
        if token is None:
            break
    assert seen == 15

    listed = cloudwatch.list_metrics(
        Namespace="AWS/SageMaker", Dimensions=[{"Name": "EndpointName", "Value": endpoint}]
    )["Metrics"]
    names = {item["MetricName"] for item in listed}
    assert {"Invocations", "ModelLatency", "OverheadLatency", "Invocation5XXErrors"} <= names
    assert all(item["Dimensions"] == _dimensions(endpoint) for item in listed)
    assert cloudwatch.list_metrics(Namespace="AWS/EC2")["Metrics"] == []


def test_shadow_variant_reported_under_its_own_name(models: Models) -> None:
    production = models.model()
    shadow = models.model()
    endpoint = models.endpoint(production)
    models.experiment(endpoint, production, shadow)
    for value in range(6):
        models.invoke(endpoint, [value])
    cloudwatch = client(models.server.url, "cloudwatch")

    def shadow_calls() -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker", MetricName="Invocations", Period=60,
            Dimensions=_dimensions(endpoint, "shadow"), Statistics=["Sum"], **_window(),
        )["Datapoints"]  # fmt: skip
        return sum(point["Sum"] for point in points)

    wait_until(lambda: shadow_calls() == 6)
    assert _sum(cloudwatch, endpoint, "Invocations") == 6  # production, under AllTraffic


def test_aws_cli_reads_the_same_numbers(traffic: tuple[Models, str]) -> None:
    models, endpoint = traffic
    window = _window()
    completed = subprocess.run(
        [sys.executable, "-m", "awscli", "cloudwatch", "get-metric-statistics",
         "--endpoint-url", models.server.url, "--namespace", "AWS/SageMaker",
         "--metric-name", "Invocation5XXErrors", "--period", "60",
         "--statistics", "Sum", "Average",
         "--dimensions", f"Name=EndpointName,Value={endpoint}", "Name=VariantName,Value=AllTraffic",
         "--start-time", window["StartTime"].isoformat(),
         "--end-time", window["EndTime"].isoformat()],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    points = json.loads(completed.stdout)["Datapoints"]
    assert (
        sum(point["Sum"] for point in points)
        == 2
        == _live(models, endpoint, "Invocation5XXErrors_total")
    )


def test_older_botocore_query_wire(traffic: tuple[Models, str]) -> None:
    """Botocore before CloudWatch's JSON protocol sent awsQuery (form body, XML answers);
    SageMaker images still carry such versions. The same calls, on that wire."""
    models, endpoint = traffic
    status, parsed = query_call(
        models.server.url, "cloudwatch", "GetMetricStatistics",
        Namespace="AWS/SageMaker", MetricName="Invocations", Period=60,
        Dimensions=_dimensions(endpoint), Statistics=["Sum", "Maximum"],
        ExtendedStatistics=["p50"], **_window(),
    )  # fmt: skip
    assert status == 200, parsed
    assert sum(point["Sum"] for point in parsed["Datapoints"]) == 15
    assert all(point["ExtendedStatistics"]["p50"] == 1.0 for point in parsed["Datapoints"])
    assert isinstance(parsed["Datapoints"][0]["Timestamp"], dt.datetime)
    by_endpoint = [{"Name": "EndpointName", "Value": endpoint}]
    status, listed = query_call(models.server.url, "cloudwatch", "ListMetrics",
                                Dimensions=by_endpoint)  # fmt: skip
    assert status == 200 and len(listed["Metrics"]) >= 7
    status, bad = query_call(
        models.server.url, "cloudwatch", "GetMetricStatistics",
        Namespace="AWS/SageMaker", MetricName="Invocations", Period=7,
        Dimensions=_dimensions(endpoint), Statistics=["Sum"], **_window(),
    )  # fmt: skip
    assert status == 400
    assert bad["Error"]["Code"] == "InvalidParameterValue"
    assert "Period must be" in bad["Error"]["Message"]


def test_bad_input_gets_cloudwatch_errors(traffic: tuple[Models, str]) -> None:
    models, endpoint = traffic
    cloudwatch = client(models.server.url, "cloudwatch")
    cases = [
        ({"Period": 7}, "InvalidParameterValue", "Period must be 10, 30 or a multiple of 60"),
        ({"Period": 60, "ExtendedStatistics": ["tm99"]}, "InvalidParameterValue", "tm99"),
        ({"Period": 60, "Statistics": None},
         "InvalidParameterCombination", "At least one of the parameters"),
        ({"Period": 10, "StartTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
          "EndTime": dt.datetime(2026, 2, 1, tzinfo=dt.UTC)},
         "InvalidParameterCombination", "exceeds the limit of 1440"),
        ({"Period": 60, "EndTime": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)},
         "InvalidParameterValue", "StartTime must be less than"),
        ({"Period": 60, "Statistics": ["Median"]}, "InvalidParameterValue", "Median"),
    ]  # fmt: skip
    for overrides, code, words in cases:
        with pytest.raises(ClientError) as caught:
            _statistics(cloudwatch, endpoint, "Invocations", **overrides)
        error = caught.value.response["Error"]
        assert error["Code"] == code, (overrides, error)
        assert words in error["Message"], (overrides, error)
    with pytest.raises(ClientError) as caught:
        cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "m", "Expression": "SUM(METRICS())"}], **_window()
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "Expression" in caught.value.response["Error"]["Message"]
    # Other namespaces, dimensions or units: no datapoints, as CloudWatch answers.
    assert _statistics(cloudwatch, endpoint, "Invocations", Unit="Seconds") == []
    assert _statistics(cloudwatch, endpoint, "CPUUtilization") == []
    assert cloudwatch.list_metrics(MetricName="NoSuchMetric")["Metrics"] == []
