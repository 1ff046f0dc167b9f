"""Output comparison by kind: JSON (per field, by JSON Pointer), CSV, NPY, text and bytes;
scores, labels (given or derived from scores) and text; aggregates that merge exactly."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import numpy as np
import pytest
from scipy import stats as scipy_stats

from shadowserve.comparison.aggregate import OutputAggregate
from shadowserve.comparison.fields import MAX_LABELS, OTHER_LABEL, FieldAggregate, LabelField
from shadowserve.comparison.outputs import parse_output
from shadowserve.comparison.settings import CompareSettings
from shadowserve.comparison.summary import summarize

JSON = "application/json"


def _compare(a: Any, b: Any, settings: CompareSettings | None = None,
             content_type: str = JSON) -> set[str]:  # fmt: skip
    def encode(value: Any) -> bytes:
        return value if isinstance(value, bytes) else json.dumps(value).encode()

    aggregate = OutputAggregate()
    return set(aggregate.add_pair(parse_output(encode(a), content_type),
                                  parse_output(encode(b), content_type),
                                  settings or CompareSettings()))  # fmt: skip


def _summary(pairs: list[tuple[bytes, bytes]], content_type: str = JSON,
             settings: CompareSettings | None = None) -> dict[str, Any]:  # fmt: skip
    aggregate = OutputAggregate()
    settings = settings or CompareSettings()
    for a, b in pairs:
        aggregate.add_pair(parse_output(a, content_type), parse_output(b, content_type), settings)
    return summarize(aggregate, settings, 0.95)


def _field(summary: dict[str, Any], ident: str) -> dict[str, Any]:
    found = [field for field in summary["fields"] if field["field"] == ident]
    assert found, [field["field"] for field in summary["fields"]]
    return found[0]


def test_json_fields_are_named_by_pointer_and_key_order_never_matters() -> None:
    same = {"label": "churn", "score": 0.8123456, "extra": [1, 2]}
    reordered = {"extra": [1, 2], "score": 0.8123457, "label": "churn"}
    assert _compare(same, reordered) == set()
    differing = _compare({"label": "churn", "score": 0.8, "a/b": 1},
                         {"label": "stay", "score": 0.7, "a/b": 2})  # fmt: skip
    # A score in [0, 1] also gives a label (score ≥ 0.5), which both sides keep here.
    assert differing == {"label:/label", "score:/score", "label:/a~1b"}


@pytest.mark.parametrize("body", [b'{"score": NaN, "low": -Infinity}',
                                  b'{"id": 123456789012345678901234567890}',
                                  '{"label": "caf\u00e9"}'.encode("utf-16")])  # fmt: skip
def test_json_only_pythons_parser_reads_is_still_json(body: bytes) -> None:
    # What Python models write with json.dumps (NaN), big integers, UTF-16: orjson refuses
    # them, the standard library reads them.
    parsed = parse_output(body, "application/json")
    assert parsed.format == "json" and parsed.leaves


def test_answers_without_a_content_type_are_sniffed_and_too_deep_ones_are_bytes() -> None:
    assert parse_output(b'{"label": "cat"}', None).format == "json"
    assert parse_output(b"a plain answer", None).format == "text"
    deep = b"[" * 100_000 + b"]" * 100_000  # past both parsers' depth: never an exception
    assert parse_output(deep, None).format == "bytes"
    assert parse_output(deep, "application/json").format == "bytes"


def test_missing_fields_and_different_types_disagree() -> None:
    assert _compare({"a": 1}, {"b": 1}) == {"label:/a", "label:/b"}
    assert _compare([0.5, 0.5], [0.5, 0.5, 0.5]) == {"score:/2"}
    assert _compare({"a": "1"}, {"a": 1}) == {"label:/a"}
    assert _compare([1, 0.5], [1.0, 0.5]) == set()  # 1 and 1.0 are the same number


def test_tolerance_is_per_pointer_with_a_default() -> None:
    assert _compare([1.0], [1.01]) == {"score:/0"}
    assert _compare([1.0], [1.01], CompareSettings(tolerance=0.02)) == set()
    per_pointer = CompareSettings(tolerances=(("/scores", 0.1),))
    assert _compare({"scores": [2.0], "other": 2.0}, {"scores": [2.1], "other": 2.1},
                    per_pointer) == {"score:/other"}  # fmt: skip


def test_probabilities_give_labels_by_threshold_and_argmax() -> None:
    summary = _summary([(b"[0.9]", b"[0.4]"), (b"[0.2]", b"[0.3]"), (b"[0.7]", b"[0.8]")])
    label = _field(summary, "label:/0")
    assert label["derived"] == "score ≥ 0.5"
    assert label["labels"] == ["0", "1"]
    assert label["confusion"] == [[1, 0], [1, 1]]  # rows production, columns shadow
    assert label["label_agreement"]["count"] == 2
    said_1 = next(item for item in label["directional"] if item["production"] == "1")
    assert said_1["share"]["rate"] == 0.5  # shadow says 0 where production said 1
    vectors = _summary([(b'{"p": [0.1, 0.7, 0.2]}', b'{"p": [0.2, 0.3, 0.5]}')])
    argmax = _field(vectors, "label:/p")
    assert (argmax["derived"], argmax["labels"]) == ("argmax", ["1", "2"])
    assert not any(field["field"] == "label:/p/0" for field in vectors["fields"])
    off = _summary([(b"[0.9]", b"[0.4]")], settings=CompareSettings(label_threshold=None))
    assert [field["field"] for field in off["fields"]] == ["score:/0"]


def test_score_statistics_match_scipy() -> None:
    rng = random.Random(5)
    production = [rng.betavariate(2, 5) for _ in range(2000)]
    shadow = [min(1.0, max(0.0, p + rng.gauss(0.05, 0.05))) for p in production]
    summary = _summary([(json.dumps([p]).encode(), json.dumps([s]).encode())
                        for p, s in zip(production, shadow, strict=True)])  # fmt: skip
    score = _field(summary, "score:/0")
    assert score["pearson"] == pytest.approx(scipy_stats.pearsonr(production, shadow)[0], abs=1e-9)
    assert score["spearman"] == pytest.approx(
        scipy_stats.spearmanr(production, shadow)[0], abs=0.01
    )  # bins of 0.01: ties
    exact_ks = scipy_stats.ks_2samp(production, shadow)
    assert score["ks"]["statistic"] == pytest.approx(exact_ks.statistic, abs=0.02)
    assert score["ks"]["p_value"] < 1e-6
    assert score["psi"] > 0.05
    low, high = score["mean_shift"]["ci"]
    assert low < float(np.mean(np.subtract(shadow, production))) < high
    assert 0.03 < score["abs_diff"]["p50"] < 0.06
    assert sum(score["histogram"]["production"]) == 2000
    assert sum(cell[2] for cell in score["heatmap"]["cells"]) == 2000
    same = _summary([(json.dumps([p]).encode(),) * 2 for p in production])
    assert _field(same, "score:/0")["psi"] == 0.0
    assert _field(same, "score:/0")["ks"]["p_value"] == 1.0


def test_labels_get_a_confusion_matrix_and_kappa() -> None:
    pairs = [(b'{"y": "cat"}', b'{"y": "cat"}')] * 40 + [(b'{"y": "dog"}', b'{"y": "dog"}')] * 45
    pairs += [(b'{"y": "cat"}', b'{"y": "dog"}')] * 10 + [(b'{"y": "dog"}', b'{"y": "cat"}')] * 5
    label = _field(_summary(pairs), "label:/y")
    assert label["confusion"] == [[40, 10], [5, 45]]
    assert label["kappa"] == pytest.approx(0.7)
    assert label["label_agreement"]["rate"] == 0.85


def test_text_outputs_get_match_similarity_and_length() -> None:
    pairs = [(b'{"generated_text": "The cat sat."}', b'{"generated_text": "the  cat sat."}'),
             (b'{"generated_text": "Hello"}', b'{"generated_text": "Hello"}')]  # fmt: skip
    text = _field(_summary(pairs), "text:/generated_text")
    assert text["exact_match"]["count"] == 1
    assert text["normalized_match"]["count"] == 2
    assert 80 < text["similarity"]["p50"] <= 100
    plain = _field(_summary([(b"a long answer", b"a longer answer!")], "text/plain"), "text:")
    assert plain["length_ratio"] > 1


def test_csv_npy_and_opaque_payloads() -> None:
    assert _compare(b"0.25,1\n0.75,0\n", b"0.2500001,1\n0.75,1\n",
                    CompareSettings(tolerance=1e-3), "text/csv") == {"label:/1/1"}  # fmt: skip
    ours, theirs = io.BytesIO(), io.BytesIO()
    np.save(ours, np.array([[0.2, 0.8]]))
    np.save(theirs, np.array([[0.6, 0.4]]))
    assert _compare(ours.getvalue(), theirs.getvalue(), content_type="application/x-npy") == {
        "score:/0/0", "score:/0/1", "label:/0"}  # fmt: skip
    assert _compare(b"\x00\x01", b"\x00\x01", content_type="image/png") == set()
    assert _compare(b"\x00\x01", b"\x00\x02", content_type="image/png") == {"bytes:"}
    assert _compare(b"{not json", b"{not json", content_type=JSON) == set()


def test_long_arrays_collapse_to_one_field() -> None:
    embedding = [i / 100 for i in range(64)]
    summary = _summary([(json.dumps({"e": embedding}).encode(),) * 2])
    assert {field["field"] for field in summary["fields"]} == {"score:/e/*", "label:/e/*"}
    assert _field(summary, "score:/e/*")["pairs"] == 64


def test_aggregates_merge_exactly_and_survive_json() -> None:
    settings = CompareSettings()
    whole, halves = OutputAggregate(), [OutputAggregate(), OutputAggregate()]
    rng = random.Random(1)
    for index in range(200):
        a = json.dumps({"p": rng.random(), "y": rng.choice("ab"), "t": "x" * 50}).encode()
        b = json.dumps({"p": rng.random(), "y": rng.choice("ab"), "t": "y" * 50}).encode()
        for target in (whole, halves[index % 2]):
            target.add_pair(parse_output(a, JSON), parse_output(b, JSON), settings)
    merged = OutputAggregate.from_json(json.loads(json.dumps(halves[0].to_json())))
    merged.merge(OutputAggregate.from_json(json.loads(json.dumps(halves[1].to_json()))))
    # Equal but for the order floating-point sums were added in.
    assert _rounded(summarize(merged, settings, 0.95)) == _rounded(summarize(whole, settings, 0.95))


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def test_agreement_leaves_out_noise_and_ignored_fields() -> None:
    settings = CompareSettings()
    aggregate = OutputAggregate()
    for index in range(50):
        production = json.dumps({"id": f"p{index}", "y": 1}).encode()
        shadow = json.dumps({"id": f"s{index}", "y": 1}).encode()
        again = json.dumps({"id": f"s{index}-again", "y": 1}).encode()
        aggregate.add_pair(parse_output(production, JSON), parse_output(shadow, JSON), settings)
        if index < 10:
            aggregate.add_probe(parse_output(shadow, JSON), parse_output(again, JSON), settings)
    summary = summarize(aggregate, settings, 0.95)
    assert summary["raw_output_agreement"]["rate"] == 0.0
    assert summary["output_agreement"]["rate"] == 1.0
    assert [noise["field"] for noise in summary["noise"]] == ["/id"]
    assert "10 noise probes" in summary["noise"][0]["found_by"]
    ignored = summarize(aggregate, CompareSettings(ignore=("/y",)), 0.95)
    assert _field(ignored, "label:/y")["ignored"]


def test_labels_past_the_limit_count_as_other_also_after_a_merge_and_a_reload() -> None:
    kept = LabelField()
    for index in range(MAX_LABELS):
        kept.add(f"p{index}", "same", False)
    kept.add("one-more", "same", False)
    assert (OTHER_LABEL, "same") in kept.confusion
    elsewhere = LabelField()
    elsewhere.add("late", "late", True)
    reloaded = FieldAggregate.from_json(kept.to_json())
    assert isinstance(reloaded, LabelField)
    reloaded.add("p1", "same", False)  # its labels are known now
    reloaded.merge(elsewhere)  # keys that came in by merge are known to the next add
    reloaded.add("late", "x", False)
    reloaded.add("p0", "late", False)
    assert ("late", "x") in reloaded.confusion and ("p0", "late") in reloaded.confusion
    reloaded.add("never-seen", "y", False)
    assert (OTHER_LABEL, "y") in reloaded.confusion


def test_whole_number_and_boolean_labels_are_named_as_json_writes_them() -> None:
    same = b'{"label": 1, "ok": true, "id": -3}'
    pairs = [(b'{"label": 1, "ok": true, "id": 12345678901234567890}',
              b'{"label": 0, "ok": false, "id": 12345678901234567890}'), (same, same)]  # fmt: skip
    summary = _summary(pairs)
    assert _field(summary, "label:/label")["labels"] == ["0", "1"]
    assert _field(summary, "label:/ok")["labels"] == ["false", "true"]
    assert _field(summary, "label:/id")["labels"] == ["-3", "12345678901234567890"]
