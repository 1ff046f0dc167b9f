"""Output comparison: structure-aware for JSON and CSV, bytes otherwise."""

from __future__ import annotations

import json

from shadowserve.metrics.comparison import compare_outputs

JSON = "application/json"


def _json(a: object, b: object, tolerance: float = 1e-6):  # type: ignore[no-untyped-def]
    return compare_outputs(json.dumps(a).encode(), JSON, json.dumps(b).encode(), JSON, tolerance)


def test_json_ignores_key_order_and_tolerates_small_score_differences() -> None:
    result = _json(
        {"label": "churn", "score": 0.8123456, "extra": [1, 2]},
        {"extra": [1, 2], "score": 0.8123457, "label": "churn"},
    )
    assert result.kind == "json"
    assert result.equal
    assert (result.labels, result.labels_agree, result.scores) == (3, 3, 1)
    assert 0 < result.score_abs_max < 1e-6


def test_json_label_and_score_disagreement() -> None:
    result = _json({"label": "churn", "score": 0.8}, {"label": "stay", "score": 0.7})
    assert not result.equal
    assert (result.labels, result.labels_agree) == (1, 0)
    assert abs(result.score_abs_max - 0.1) < 1e-9
    assert not _json([0.5, 0.5], [0.5, 0.5, 0.5]).equal  # a missing item disagrees
    assert not _json({"a": 1}, {"b": 1}).equal


def test_tolerance_is_configurable() -> None:
    assert not _json([1.0], [1.01]).equal
    assert _json([1.0], [1.01], tolerance=0.02).equal
    assert _json([1, 0.5], [1.0, 0.5]).equal  # 1 and 1.0 are the same number


def test_csv_rows_compare_cell_by_cell() -> None:
    result = compare_outputs(b"0.25,1\n0.75,0\n", "text/csv; charset=utf-8",
                             b"0.2500001,1\n0.75,1\n", "text/csv", 1e-3)  # fmt: skip
    assert result.kind == "csv"
    assert not result.equal
    assert (result.labels, result.labels_agree, result.scores) == (2, 1, 2)


def test_opaque_payloads_compare_as_bytes() -> None:
    assert compare_outputs(b"\x00\x01", "image/png", b"\x00\x01", "image/png", 0).equal
    assert not compare_outputs(b"\x00\x01", "image/png", b"\x00\x02", "image/png", 0).equal
    mixed = compare_outputs(b"[1]", JSON, b"[1]", "text/csv", 0)
    assert (mixed.kind, mixed.equal) == ("bytes", True)
    broken = compare_outputs(b"{not json", JSON, b"{not json", JSON, 0)
    assert (broken.kind, broken.equal) == ("bytes", True)
