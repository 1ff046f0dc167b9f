"""CloudWatch's reads of SageMaker's invocation metrics: GetMetricStatistics, GetMetricData
and ListMetrics, answered from the aggregates the server stores every 10 seconds.

A metric is named as SageMaker publishes it: namespace ``AWS/SageMaker``, dimensions
``EndpointName`` and ``VariantName`` (shadow variants under their own name). As in CloudWatch,
a query must name exactly those dimensions; anything else has no datapoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import CodedError
from shadowserve.metrics.aggregates import VariantAggregate
from shadowserve.metrics.aggregator import INTERVAL_SECONDS
from shadowserve.metrics.cloudwatch import DIMENSIONS, METRICS, NAMESPACE, Metric
from shadowserve.services.context import ControlPlane

MAX_DATAPOINTS = 1440  # per GetMetricStatistics call, as CloudWatch
RETENTION = timedelta(days=14)  # what ListMetrics lists: metrics with data this recent
LIST_PAGE = 500


class InvalidParameterValue(CodedError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterValueException", message)


class InvalidParameterCombination(CodedError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterCombinationException", message)


class InvalidNextToken(CodedError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidNextToken", message)


@dataclass(frozen=True)
class MetricQuery:
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    period: int
    unit: str | None = None


@dataclass(frozen=True)
class MetricName:
    metric_name: str
    endpoint: str
    variant: str


def check_period(period: int) -> None:
    # Aggregates are kept per 10 s, so finer periods cannot be answered; coarser ones
    # follow CloudWatch's rule for high-resolution metrics (10, 30, or whole minutes).
    if period not in (10, 30) and period % 60 != 0:
        raise InvalidParameterValue(
            f"The parameter Period must be 10, 30 or a multiple of 60 (got {period}): "
            f"shadowserve keeps metrics at {INTERVAL_SECONDS}-second resolution."
        )


def check_range(start: datetime, end: datetime) -> None:
    if start >= end:
        raise InvalidParameterValue(
            "The parameter StartTime must be less than the parameter EndTime."
        )


def check_datapoint_limit(start: datetime, end: datetime, period: int) -> None:
    requested = -(-int((end - start).total_seconds()) // period)
    if requested > MAX_DATAPOINTS:
        raise InvalidParameterCombination(
            f"You have requested up to {requested} datapoints, which exceeds the limit of "
            f"{MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, "
            "or decreasing the time range."
        )


def resolve(query: MetricQuery) -> tuple[Metric, str, str] | None:
    """The metric and its endpoint and variant, or None when nothing is published so."""
    metric = METRICS.get(query.metric_name)
    dimensions = dict(query.dimensions)
    if (
        query.namespace != NAMESPACE
        or metric is None
        or len(dimensions) != len(query.dimensions)
        or set(dimensions) != set(DIMENSIONS)
        or (query.unit is not None and query.unit != metric.unit)
    ):
        return None
    return metric, dimensions["EndpointName"], dimensions["VariantName"]


def buckets(
    plane: ControlPlane, scope: Scope, query: MetricQuery, start: datetime, end: datetime
) -> tuple[Metric, dict[datetime, VariantAggregate]] | None:
    """The variant's aggregates merged per period (keyed by the period's start, aligned to
    multiples of the period since the epoch), for periods overlapping [start, end)."""
    resolved = resolve(query)
    if resolved is None:
        return None
    metric, endpoint, variant = resolved
    period = query.period
    first = int(start.timestamp()) // period * period
    with plane.store.transaction() as tx:
        rows = tx.find_aggregates(
            "variant", scope, endpoint, since=first, until=_ceil(end.timestamp())
        )
    merged: dict[datetime, VariantAggregate] = {}
    for key, body in rows:
        if key.variant != variant:
            continue
        bucket = datetime.fromtimestamp(key.start // period * period, UTC)
        merged.setdefault(bucket, VariantAggregate()).merge(VariantAggregate.from_json(body))
    return metric, dict(sorted(merged.items()))


def metric_names(plane: ControlPlane, scope: Scope, recently_active: bool) -> list[MetricName]:
    """Every metric with data in the retention window (or the last 3 hours), sorted."""
    since = plane.clock.now() - (timedelta(hours=3) if recently_active else RETENTION)
    with plane.store.transaction() as tx:
        variants = tx.aggregated_variants(scope, int(since.timestamp()))
    return [
        MetricName(name, endpoint, variant) for endpoint, variant in variants for name in METRICS
    ]


def _ceil(seconds: float) -> int:
    return -int(-seconds // 1)
