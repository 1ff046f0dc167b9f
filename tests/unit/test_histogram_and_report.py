"""Quantiles with intervals, paired statistics and the verdict, on known numbers."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from shadowserve.dataplane.events import InvocationEvent, Role
from shadowserve.domain.arns import Scope
from shadowserve.metrics.aggregates import PairAggregate, VariantAggregate
from shadowserve.metrics.comparison import compare_outputs
from shadowserve.metrics.histogram import LogHistogram
from shadowserve.metrics.report import Thresholds, build_report

SCOPE = Scope("123456789012", "us-east-1")


def test_quantiles_and_their_intervals_cover_the_truth() -> None:
    histogram = LogHistogram()
    rng = random.Random(7)
    values = [rng.uniform(1_000, 11_000) for _ in range(5_000)]
    for value in values:
        histogram.add(value)
    truth = sorted(values)
    for q in (0.5, 0.9, 0.99):
        exact = truth[int(q * len(truth))]
        estimate = histogram.quantile(q)
        low, high = histogram.quantile_interval(q)  # type: ignore[misc]
        assert estimate is not None
        assert abs(estimate - exact) / exact < 0.03
        assert low * 0.98 <= exact <= high * 1.02
        assert low <= estimate <= high
    merged = LogHistogram.from_json(histogram.to_json())
    merged.merge(histogram)
    assert merged.total == 10_000
    assert LogHistogram().quantile(0.5) is None


def _event(role: Role, latency_us: int, body: bytes, status: int = 200) -> InvocationEvent:
    return InvocationEvent(
        scope=SCOPE, endpoint_name="ep", variant_name=role.value, role=role,
        experiment_name="x", inference_id="i", inference_id_from_caller=False,
        request_body=b"[1]", request_content_type="application/json", accept=None,
        response_body=body, response_content_type="application/json", status=status,
        model_latency_us=latency_us, overhead_latency_us=100, error_kind=None,
        time=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


def _report(pairs: int, disagree_every: int = 0, slowdown: float = 1.0) -> dict:  # type: ignore[type-arg]
    rng = random.Random(3)
    totals = {"production": VariantAggregate(), "shadow": VariantAggregate()}
    pair = PairAggregate()
    for index in range(pairs):
        latency = int(rng.uniform(8_000, 12_000))
        production = _event(Role.PRODUCTION, latency, b'{"label": 1}')
        flipped = disagree_every and index % disagree_every == 0
        shadow_body = b'{"label": 0}' if flipped else b'{"label": 1}'
        shadow = _event(Role.SHADOW, int(latency * slowdown * rng.uniform(0.95, 1.05)),
                        shadow_body)  # fmt: skip
        totals["production"].add(production)
        totals["shadow"].add(shadow)
        outputs = compare_outputs(production.response_body, "application/json",
                                  shadow.response_body, "application/json", 1e-6)  # fmt: skip
        pair.add(production, shadow, outputs)
    return build_report({"name": "x"}, totals, pair, [], Thresholds())


def test_an_identical_shadow_is_promoted() -> None:
    report = _report(300)
    assert report["verdict"]["decision"] == "promote"
    assert report["comparison"]["output_agreement"]["rate"] == 1.0
    ratio = report["comparison"]["latency_ratio"]
    assert ratio["ci"][0] < 1.02 and ratio["ci"][1] > 0.98


def test_a_shadow_disagreeing_on_ten_percent_is_not_promoted() -> None:
    report = _report(300, disagree_every=10)
    assert report["verdict"]["decision"] == "dont_promote"
    agreement = report["comparison"]["output_agreement"]
    assert abs(agreement["rate"] - 0.9) < 0.01
    assert agreement["ci"][0] < 0.9 < agreement["ci"][1] < 0.95
    assert any("Outputs agree" in reason for reason in report["verdict"]["reasons"])


def test_a_three_times_slower_shadow_is_not_promoted() -> None:
    report = _report(300, slowdown=3.0)
    assert report["verdict"]["decision"] == "dont_promote"
    ratio = report["comparison"]["latency_ratio"]
    assert 2.8 < ratio["geometric_mean"] < 3.2
    assert ratio["p_value"] < 0.001
    difference = report["comparison"]["latency_difference_ms"]
    assert 15 < difference["mean"] < 25
    assert any("latency" in reason for reason in report["verdict"]["reasons"])


def test_too_few_pairs_is_not_enough_data() -> None:
    report = _report(40)
    assert report["verdict"]["decision"] == "not_enough_data"
