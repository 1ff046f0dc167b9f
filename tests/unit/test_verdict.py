"""The verdict's rules, on fakes: legs made up in memory, folded into the same aggregates the
server stores, judged by the same report code. Deterministic (seeded) and fast; one
end-to-end test per rule family lives in tests/dataplane/test_metrics_report.py."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from shadowserve.comparison.settings import CompareMode, CompareSettings
from shadowserve.domain.arns import Scope
from shadowserve.events.invocations import InvocationEvent, Role
from shadowserve.metrics.aggregates import PairAggregate, VariantAggregate
from shadowserve.metrics.offloaded_outputs import compare_pair, compare_probe
from shadowserve.metrics.report import build_report
from shadowserve.metrics.verdict import Thresholds

SCOPE = Scope("123456789012", "us-east-1")
Answer = Callable[[int, random.Random], Any]  # request index → the JSON a model answers


def _event(role: Role, latency_us: int, body: Any, status: int = 200) -> InvocationEvent:
    return InvocationEvent(
        scope=SCOPE, endpoint_name="ep", variant_name=role.value, role=role,
        experiment_name="x", inference_id="i", inference_id_from_caller=False,
        request_body=b"[1]", request_content_type="application/json", accept=None,
        response_body=json.dumps(body).encode(), response_content_type="application/json",
        status=status, model_latency_us=latency_us, overhead_latency_us=100, error_kind=None,
        time=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


def _report(
    pairs: int = 300,
    production: Answer = lambda i, _rng: {"label": i % 3},
    shadow: Answer | None = None,
    latency: Callable[[random.Random], tuple[float, float]] = lambda rng: (
        (base := rng.uniform(8_000, 12_000)),
        base * rng.uniform(0.95, 1.05),
    ),
    shadow_status: Callable[[int], int] = lambda _i: 200,
    probe_every: int = 10,
    settings: CompareSettings | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    rng = random.Random(3)
    shadow = shadow or production
    settings = settings or CompareSettings()
    totals = {"production": VariantAggregate(), "shadow": VariantAggregate()}
    pair = PairAggregate()
    for index in range(pairs):
        ours, theirs = latency(rng)
        first = _event(Role.PRODUCTION, int(ours), production(index, rng))
        second = _event(Role.SHADOW, int(theirs), shadow(index, rng), shadow_status(index))
        totals["production"].add(first)
        totals["shadow"].add(second)
        if pair.add(first, second):
            compare_pair(_answer(first), _answer(second), settings, pair.outputs)
        if index % probe_every == 0 and second.succeeded:
            again = json.dumps(shadow(index, rng)).encode()
            compare_probe(_answer(second), (again, "application/json"), settings, pair.outputs)
    return build_report({"name": "x"}, totals, pair, [], thresholds or Thresholds(), settings)


def _answer(event: InvocationEvent) -> tuple[bytes, str | None]:
    return event.response_body, event.response_content_type


def _equivalence() -> CompareSettings:
    return CompareSettings(mode=CompareMode.EQUIVALENCE)


def _reasons(report: dict[str, Any]) -> str:
    return " ".join(report["verdict"]["reasons"])


def test_an_identical_shadow_is_promoted_in_both_modes() -> None:
    for settings in (CompareSettings(), _equivalence()):
        report = _report(settings=settings)
        assert report["verdict"]["decision"] == "promote", report["verdict"]
        assert report["comparison"]["output_agreement"]["rate"] == 1.0
        median = report["comparison"]["latency_ratio_median"]
        assert median["ci"][0] < 1.02 < median["ci"][1] + 0.04


def test_random_ids_and_timestamps_are_found_as_noise_and_never_cost_agreement() -> None:
    def answer(i: int, rng: random.Random) -> Any:
        return {"request_id": f"{rng.getrandbits(64):x}", "ts": f"2026-01-01T00:00:{rng.random()}",
                "score": 0.1 + (i % 9) / 10}  # fmt: skip

    for settings in (CompareSettings(), _equivalence()):
        report = _report(production=answer, shadow=answer, settings=settings)
        outputs = report["comparison"]["outputs"]
        assert {noise["field"] for noise in outputs["noise"]} == {"/request_id", "/ts"}
        assert all("noise probes" in noise["found_by"] for noise in outputs["noise"])
        assert outputs["raw_output_agreement"]["rate"] == 0.0
        assert report["comparison"]["output_agreement"]["rate"] >= 0.99
        assert report["verdict"]["decision"] == "promote", report["verdict"]


def test_a_consistently_changed_field_is_a_real_difference_never_noise() -> None:
    report = _report(production=lambda i, _r: {"model_version": "v1", "label": i % 2},
                     shadow=lambda i, _r: {"model_version": "v2", "label": i % 2})  # fmt: skip
    assert report["comparison"]["outputs"]["noise"] == []
    assert report["comparison"]["output_agreement"]["rate"] == 0.0
    assert report["verdict"]["decision"] == "promote"  # candidate: metadata, not a prediction
    assert (
        "'v1' in every production answer and 'v2' in every shadow" in report["verdict"]["notes"][0]
    )
    strict = _report(production=lambda i, _r: {"model_version": "v1", "label": i % 2},
                     shadow=lambda i, _r: {"model_version": "v2", "label": i % 2},
                     settings=_equivalence())  # fmt: skip
    assert strict["verdict"]["decision"] == "dont_promote"
    assert "most differences in /model_version" in _reasons(strict)
    ignored = _report(production=lambda i, _r: {"model_version": "v1", "label": i % 2},
                      shadow=lambda i, _r: {"model_version": "v2", "label": i % 2},
                      settings=replace(_equivalence(), ignore=("/model_version",)))  # fmt: skip
    assert ignored["verdict"]["decision"] == "promote"


def test_equivalence_wants_agreement_and_names_the_figure_and_bound() -> None:
    flip = lambda i, _r: {"label": 0 if i % 10 == 0 else 1}  # noqa: E731
    report = _report(production=lambda _i, _r: {"label": 1}, shadow=flip, settings=_equivalence())
    assert report["verdict"]["decision"] == "dont_promote"
    assert "Outputs agree on 90.0% of 300 requests" in _reasons(report)
    assert "equivalence needs 99.0%" in _reasons(report)


def test_a_candidate_may_differ_within_its_bounds() -> None:
    def flips(share: float) -> Answer:
        return lambda i, _r: {"label": int(i % 100 >= share * 100)}

    ten = _report(production=lambda _i, _r: {"label": 1}, shadow=flips(0.1))
    assert ten["verdict"]["decision"] == "promote", ten["verdict"]
    assert ten["comparison"]["label_agreement"]["rate"] == 0.9
    thirty = _report(production=lambda _i, _r: {"label": 1}, shadow=flips(0.3))
    assert thirty["verdict"]["decision"] == "dont_promote"
    assert "Labels /label agree on 70.0% of 300 pairs" in _reasons(thirty)
    assert "a candidate must keep 80%" in _reasons(thirty)


def test_a_candidate_whose_scores_no_longer_rank_alike_is_not_promoted() -> None:
    report = _report(production=lambda i, _r: {"y": 10.0 + i},
                     shadow=lambda _i, rng: {"y": rng.uniform(0, 500)})  # fmt: skip
    assert report["verdict"]["decision"] == "dont_promote"
    assert "Scores /y rank like production's at Spearman rho" in _reasons(report)
    shifted = _report(production=lambda i, _r: {"p": (i % 20) / 100},
                      shadow=lambda i, _r: {"p": (i % 20) / 100 + 0.25})  # fmt: skip
    assert shifted["verdict"]["decision"] == "promote"  # same ranking; PSI is opt-in
    score = next(f for f in shifted["comparison"]["outputs"]["fields"] if f["kind"] == "score")
    assert score["psi"] > 1
    bounded = _report(production=lambda i, _r: {"p": (i % 20) / 100},
                      shadow=lambda i, _r: {"p": (i % 20) / 100 + 0.25},
                      thresholds=Thresholds(max_score_psi=0.25))  # fmt: skip
    assert "shifted by PSI" in _reasons(bounded)


def test_latency_is_judged_per_request() -> None:
    slow = _report(latency=lambda rng: ((base := rng.uniform(8_000, 12_000)), 3 * base))
    assert slow["verdict"]["decision"] == "dont_promote"
    assert re.search(r"median (2\.9|3\.0)\dx of 300 pairs", _reasons(slow)), _reasons(slow)
    assert "at most 1.20x allowed" in _reasons(slow)

    def stalls(rng: random.Random) -> tuple[float, float]:
        base = rng.uniform(8_000, 12_000)
        return base, base * (50 if rng.random() < 0.02 else 1)  # a stall now and then

    assert _report(latency=stalls)["verdict"]["decision"] == "promote"


def test_on_a_loaded_host_a_slow_shadow_still_fails_and_an_identical_one_passes() -> None:
    def loaded(slowdown: float) -> Callable[[random.Random], tuple[float, float]]:
        # Each leg stretched by its own random factor: the host's load, up to 10x.
        def legs(rng: random.Random) -> tuple[float, float]:
            base = 10_000.0
            return (base * rng.lognormvariate(0, 0.6),
                    slowdown * base * rng.lognormvariate(0, 0.6))  # fmt: skip

        return legs

    assert _report(latency=loaded(3.0))["verdict"]["decision"] == "dont_promote"
    assert _report(latency=loaded(1.0))["verdict"]["decision"] == "promote"


def test_errors_missing_fields_and_too_little_data() -> None:
    failing = _report(shadow_status=lambda i: 500 if i % 20 == 0 else 200)
    assert failing["verdict"]["decision"] == "dont_promote"
    assert "Shadow error rate 5.00% against production's 0.00%" in _reasons(failing)
    lacking = _report(production=lambda _i, _r: {"label": 1, "why": "x"},
                      shadow=lambda _i, _r: {"label": 1})  # fmt: skip
    assert "lack /why in 100.0% of 300 pairs" in _reasons(lacking)
    few = _report(pairs=40)
    assert few["verdict"]["decision"] == "not_enough_data"
    assert "40 paired requests; at least 100 needed." in _reasons(few)
