"""The live per-variant metrics scrape as prometheus_client's own Counter and Histogram would
show them (names, bucket bounds, values), with every counter of a label set present from its
first leg on."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shadowserve.domain.arns import Scope
from shadowserve.events.invocations import ErrorKind, InvocationEvent, Role
from shadowserve.metrics.variant import LABELS, LATENCY_BUCKETS, VariantMetrics

SCOPE = Scope("123456789012", "us-east-1")
# On and either side of bucket bounds (a bound holds values up to and including it), and
# beyond the last.
LATENCIES = [0, 99, 100, 101, 250, 999_999, 1_000_000, 59_999_999, 60_000_000, 90_000_000]


def _leg(role: Role, status: int, latency: int, error: ErrorKind | None = None,
         instances: int = 1) -> InvocationEvent:  # fmt: skip
    return InvocationEvent(
        scope=SCOPE, endpoint_name="ep", variant_name=role.value, role=role,
        experiment_name="exp" if role == Role.SHADOW else None, inference_id="i",
        inference_id_from_caller=False, request_body=b"{}", request_content_type=None,
        accept=None, response_body=b"{}", response_content_type=None, status=status,
        model_latency_us=latency, overhead_latency_us=latency // 10, error_kind=error,
        instance_count=instances,
    )  # fmt: skip


def _samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_counters_per_label_set_with_zeros_from_the_first_leg() -> None:
    registry = CollectorRegistry()
    live = VariantMetrics(registry)
    for status, error in [(200, None), (404, ErrorKind.MODEL_ERROR), (503, ErrorKind.MODEL_ERROR),
                          (0, ErrorKind.TIMEOUT)]:  # fmt: skip
        live.observe(_leg(Role.PRODUCTION, status, 1000, error, instances=2))
    live.observe(_leg(Role.SHADOW, 200, 1000))
    live.observe(_leg(Role.SHADOW, 0, 0, ErrorKind.DROPPED))  # never reached the variant

    samples = _samples(registry)
    production = frozenset(
        {"endpoint": "ep", "variant": "production", "role": "production", "experiment": ""}.items()
    )
    shadow = frozenset(
        {"endpoint": "ep", "variant": "shadow", "role": "shadow", "experiment": "exp"}.items()
    )
    assert samples["shadowserve_Invocations_total", production] == 4
    assert samples["shadowserve_InvocationsPerInstance_total", production] == 2.0
    assert samples["shadowserve_Invocation4XXErrors_total", production] == 1
    assert samples["shadowserve_Invocation5XXErrors_total", production] == 1
    assert samples["shadowserve_InvocationModelErrors_total", production] == 3
    # The timeout had no answer: no model latency, but its overhead counts.
    assert samples["shadowserve_ModelLatency_microseconds_count", production] == 3
    assert samples["shadowserve_OverheadLatency_microseconds_count", production] == 4
    assert samples["shadowserve_Invocations_total", shadow] == 1
    assert samples["shadowserve_Invocation5XXErrors_total", shadow] == 0
    assert samples["shadowserve_InvocationModelErrors_total", shadow] == 0


def test_latency_histograms_scrape_as_prometheus_clients_own() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    live = VariantMetrics(ours)
    reference = Histogram("shadowserve_ModelLatency_microseconds", "", LABELS,
                          buckets=LATENCY_BUCKETS, registry=theirs)  # fmt: skip
    for latency in LATENCIES:
        live.observe(_leg(Role.PRODUCTION, 200, latency))
        reference.labels("ep", "production", "production", "").observe(latency)

    expected = _samples(theirs)
    got = {key: value for key, value in _samples(ours).items() if key in expected}
    assert got == expected
    assert len(expected) == len(LATENCY_BUCKETS) + 3  # every bucket, +Inf, count and sum


def test_created_series_are_shown_per_label_set() -> None:
    registry = CollectorRegistry()
    VariantMetrics(registry).observe(_leg(Role.PRODUCTION, 200, 5))
    text = generate_latest(registry).decode()
    for name in ("Invocations", "ModelLatency_microseconds", "OverheadLatency_microseconds"):
        assert f'shadowserve_{name}_created{{endpoint="ep"' in text
