"""CloudWatch's metric reads (GetMetricStatistics, GetMetricData, ListMetrics): request dict
in, response dict out, for any of the wire formats CloudWatch is spoken in (awsJson 1.0 by
current botocore, awsQuery by older ones)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.utils import parse_timestamp

from shadowserve.domain.arns import Scope
from shadowserve.metrics.cloudwatch import BASIC_STATISTICS, is_percentile
from shadowserve.metrics.cloudwatch import NAMESPACE as SAGEMAKER_METRICS
from shadowserve.services import cloudwatch
from shadowserve.services.cloudwatch import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MetricQuery,
)
from shadowserve.services.context import ControlPlane

Body = dict[str, Any]
Handler = Callable[[ControlPlane, Scope, Body], Body]
NAMESPACE = "com.amazonaws.cloudwatch"
DEFAULT_MAX_DATAPOINTS = 100_800


def get_metric_statistics(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    statistics = list(body.get("Statistics") or [])
    extended = list(body.get("ExtendedStatistics") or [])
    if not statistics and not extended:
        raise InvalidParameterCombination(
            "At least one of the parameters Statistics and ExtendedStatistics must be specified."
        )
    for name in extended:
        _check_statistic(name, "ExtendedStatistics", allow_basic=False)
    start, end = _time(body["StartTime"]), _time(body["EndTime"])
    query = _query(body, body["Period"])
    cloudwatch.check_range(start, end)
    cloudwatch.check_datapoint_limit(start, end, query.period)
    found = cloudwatch.buckets(plane, scope, query, start, end)
    datapoints: list[Body] = []
    if found is not None:
        metric, buckets = found
        for bucket, aggregate in buckets.items():
            samples = metric.samples(aggregate)
            if samples.moments.count == 0:
                continue
            point: Body = {"Timestamp": bucket, "Unit": metric.unit}
            point |= {name: samples.statistic(name) for name in statistics}
            if extended:
                point["ExtendedStatistics"] = {name: samples.statistic(name) for name in extended}
            datapoints.append(point)
    return {"Label": body["MetricName"], "Datapoints": datapoints}


def get_metric_data(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    start, end = _time(body["StartTime"]), _time(body["EndTime"])
    cloudwatch.check_range(start, end)
    descending = body.get("ScanBy", "TimestampDescending") == "TimestampDescending"
    budget = body.get("MaxDatapoints") or DEFAULT_MAX_DATAPOINTS
    skip = _offset(body.get("NextToken"))
    results: list[Body] = []
    position, returned, complete = 0, 0, True
    for query in body["MetricDataQueries"]:
        points = _query_points(plane, scope, query, start, end)
        if descending:
            points.reverse()
        # A NextToken is the number of datapoints (over every query, in order) already sent.
        remaining = points[max(0, skip - position) :]
        kept = remaining[: max(0, budget - returned)]
        position += len(points)
        returned += len(kept)
        complete = complete and len(kept) == len(remaining)
        if query.get("ReturnData", True) is False:
            continue
        results.append({
            "Id": query["Id"],
            "Label": query.get("Label") or query["MetricStat"]["Metric"]["MetricName"],
            "Timestamps": [stamp for stamp, _ in kept],
            "Values": [value for _, value in kept],
            "StatusCode": "Complete" if len(kept) == len(remaining) else "PartialData",
        })  # fmt: skip
    answer: Body = {"MetricDataResults": results, "Messages": []}
    if not complete:
        answer["NextToken"] = str(skip + returned)
    return answer


def list_metrics(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    namespace = body.get("Namespace")
    wanted_name = body.get("MetricName")
    filters = [(f["Name"], f.get("Value")) for f in body.get("Dimensions") or []]
    recently_active = body.get("RecentlyActive") == "PT3H"
    found = []
    if namespace in (None, SAGEMAKER_METRICS):
        for metric in cloudwatch.metric_names(plane, scope, recently_active):
            dimensions = {"EndpointName": metric.endpoint, "VariantName": metric.variant}
            if wanted_name not in (None, metric.metric_name):
                continue
            if all(name in dimensions and value in (None, dimensions[name])
                   for name, value in filters):  # fmt: skip
                found.append({
                    "Namespace": SAGEMAKER_METRICS,
                    "MetricName": metric.metric_name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                })  # fmt: skip
    skip = _offset(body.get("NextToken"))
    page = found[skip : skip + cloudwatch.LIST_PAGE]
    answer: Body = {"Metrics": page}
    if skip + len(page) < len(found):
        answer["NextToken"] = str(skip + len(page))
    return answer


def _query_points(
    plane: ControlPlane, scope: Scope, query: Body, start: datetime, end: datetime
) -> list[tuple[datetime, float]]:
    stat = query.get("MetricStat")
    if stat is None:
        raise InvalidParameterValue(
            f"The MetricDataQuery '{query.get('Id')}' has no MetricStat: shadowserve answers "
            "metric queries, not metric math Expressions."
        )
    _check_statistic(stat["Stat"], "Stat", allow_basic=True)
    metric_query = _query(stat["Metric"] | {"Unit": stat.get("Unit")}, stat["Period"])
    found = cloudwatch.buckets(plane, scope, metric_query, start, end)
    if found is None:
        return []
    metric, buckets = found
    points = []
    for bucket, aggregate in buckets.items():
        value = metric.samples(aggregate).statistic(stat["Stat"])
        if value is not None:
            points.append((bucket, value))
    return points


def _query(body: Body, period: int) -> MetricQuery:
    cloudwatch.check_period(period)
    dimensions = tuple((d["Name"], d["Value"]) for d in body.get("Dimensions") or [])
    return MetricQuery(
        namespace=body["Namespace"],
        metric_name=body["MetricName"],
        dimensions=dimensions,
        period=period,
        unit=body.get("Unit"),
    )


def _check_statistic(name: str, parameter: str, allow_basic: bool) -> None:
    if is_percentile(name) or (allow_basic and name in BASIC_STATISTICS):
        return
    raise InvalidParameterValue(
        f"The value {name} for parameter {parameter} is not supported: shadowserve answers "
        + ("SampleCount, Average, Sum, Minimum, Maximum and " if allow_basic else "")
        + "percentiles (p0.0 to p100)."
    )


def _time(value: Any) -> datetime:
    """awsJson sends epoch seconds, awsQuery ISO 8601 text."""
    parsed: datetime = parse_timestamp(value)
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    if not token.isdigit():
        raise InvalidNextToken(f"The NextToken '{token[:64]}' is not valid.")
    return int(token)


OPERATIONS: dict[str, Handler] = {
    "GetMetricStatistics": get_metric_statistics,
    "GetMetricData": get_metric_data,
    "ListMetrics": list_metrics,
}
