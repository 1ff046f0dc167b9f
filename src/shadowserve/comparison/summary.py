"""The report's view of an output aggregate: per field, what an ML engineer looks at before
promoting — by kind — plus the noise fields found and the request-level agreement with noise
and ignored fields left out."""

from __future__ import annotations

import math
from typing import Any

from shadowserve.comparison import stats
from shadowserve.comparison.aggregate import OutputAggregate
from shadowserve.comparison.bins import (
    SCORE_LINEAR_BINS,
    Counts,
    diff_bin_middle,
    log_ratio_bin_middle,
    score_bin_range,
)
from shadowserve.comparison.fields import (
    BytesField,
    FieldAggregate,
    LabelField,
    ScoreField,
    TextField,
)
from shadowserve.comparison.pairs import split_field_id
from shadowserve.comparison.settings import CompareSettings

# A field is noise when the shadow's two answers to one request differed on it in at least
# this share of the probes, and at least this many times (one odd probe is not a pattern).
NOISE_MIN_SHARE = 0.1
NOISE_MIN_DISAGREEMENTS = 2
COARSE_LINEAR = 5  # fine score bins per chart bin inside [0, 1] (so 20 bars)
COARSE_GEOMETRIC = 4  # outside [0, 1]


def is_noise(aggregate: FieldAggregate) -> bool:
    return (
        aggregate.probe_disagreements >= NOISE_MIN_DISAGREEMENTS
        and aggregate.probe_disagreements >= NOISE_MIN_SHARE * aggregate.probes
    )


def noise_fields(outputs: OutputAggregate) -> set[str]:
    return {ident for ident, aggregate in outputs.fields.items() if is_noise(aggregate)}


def summarize(
    outputs: OutputAggregate, settings: CompareSettings, confidence: float
) -> dict[str, Any]:
    noise = noise_fields(outputs)

    def excluded(ident: str) -> bool:
        return ident in noise or settings.ignores(split_field_id(ident)[1])

    fields = [
        _field(ident, aggregate, ident in noise, settings, confidence)
        for ident, aggregate in sorted(outputs.fields.items(), key=_field_order)
    ]
    return {
        "compared": outputs.compared,
        "formats": outputs.formats,
        "output_agreement": stats.proportion(
            outputs.agreeing(excluded), outputs.compared, confidence
        ),
        "raw_output_agreement": stats.proportion(
            outputs.agreeing(lambda _ident: False), outputs.compared, confidence
        ),
        "noise_probes": outputs.probes,
        "noise": [_noise(field) for field in fields if field["noise"]],
        "ignored": list(settings.ignore),
        "untracked_fields": outputs.untracked_fields,
        "fields": fields,
    }


def _field_order(item: tuple[str, FieldAggregate]) -> tuple[int, str]:
    return (-item[1].n, item[0])


def _noise(field: dict[str, Any]) -> dict[str, Any]:
    probes = field["probes"]
    return {
        "field": field["pointer"] or "(whole answer)",
        "kind": field["kind"],
        "found_by": (
            f"the shadow answered the same request twice in {probes['count']} noise probes and "
            f"the two answers differed on this field in {probes['disagreements']} of them"
        ),
    }


def _field(
    ident: str,
    aggregate: FieldAggregate,
    noise: bool,
    settings: CompareSettings,
    confidence: float,
) -> dict[str, Any]:
    kind, pointer = split_field_id(ident)
    body: dict[str, Any] = {
        "field": ident,
        "pointer": pointer,
        "kind": kind,
        "pairs": aggregate.n,
        "agreement": stats.proportion(aggregate.agree, aggregate.n, confidence),
        "missing_in_shadow": aggregate.missing_in_shadow,
        "missing_in_production": aggregate.missing_in_production,
        "probes": {"count": aggregate.probes, "disagreements": aggregate.probe_disagreements},
        "noise": noise,
        "ignored": settings.ignores(pointer),
    }
    body["excluded"] = body["noise"] or body["ignored"]
    if isinstance(aggregate, ScoreField):
        body |= _score(aggregate, settings.tolerance_for(pointer), confidence)
    elif isinstance(aggregate, LabelField):
        body |= _label(aggregate, confidence)
    elif isinstance(aggregate, TextField):
        body |= _text(aggregate, confidence)
    elif isinstance(aggregate, BytesField):
        body |= _bytes(aggregate)
    return body


def _score(field: ScoreField, tolerance: float, confidence: float) -> dict[str, Any]:
    shift = stats.mean_interval(field.n, field.sum_diff, field.sum_diff_sq, confidence)
    pearson = stats.pearson(
        field.n, field.sum_production, field.sum_shadow, field.sum_production_sq,
        field.sum_shadow_sq, field.sum_product,
    )  # fmt: skip
    mean_shift = None
    if shift is not None:
        mean_shift = {"mean": shift[0], "ci": [shift[1], shift[2]], "p_value": shift[3]}
    return {
        "tolerance": tolerance,
        "within_tolerance": stats.proportion(field.agree, field.n, confidence),
        "abs_diff": stats.quantiles(field.abs_diff, diff_bin_middle),
        "rel_diff": stats.quantiles(field.rel_diff, diff_bin_middle),
        "pearson": pearson,
        "spearman": stats.spearman(field.joint),
        "ks": stats.ks_two_sample(field.production, field.shadow),
        "psi": stats.psi(field.production, field.shadow),
        "mean": {
            "production": field.sum_production / field.n if field.n else None,
            "shadow": field.sum_shadow / field.n if field.n else None,
        },
        "mean_shift": mean_shift,
        "histogram": _histogram(field),
        "heatmap": _heatmap(field),
    }


def _coarse(index: int) -> int:
    if 0 <= index < SCORE_LINEAR_BINS:
        return index // COARSE_LINEAR
    if index >= SCORE_LINEAR_BINS:
        return SCORE_LINEAR_BINS + (index - SCORE_LINEAR_BINS) // COARSE_GEOMETRIC
    return -1 - (-1 - index) // COARSE_GEOMETRIC


def _coarse_range(coarse: int) -> tuple[float, float]:
    if 0 <= coarse < SCORE_LINEAR_BINS:
        first, last = coarse * COARSE_LINEAR, coarse * COARSE_LINEAR + COARSE_LINEAR - 1
    elif coarse >= SCORE_LINEAR_BINS:
        first = SCORE_LINEAR_BINS + (coarse - SCORE_LINEAR_BINS) * COARSE_GEOMETRIC
        last = first + COARSE_GEOMETRIC - 1
    else:
        last = -1 - (-1 - coarse) * COARSE_GEOMETRIC
        first = last - COARSE_GEOMETRIC + 1
    return score_bin_range(first)[0], score_bin_range(last)[1]


def _histogram(field: ScoreField) -> dict[str, Any]:
    production, shadow = Counts(), Counts()
    for source, target in ((field.production, production), (field.shadow, shadow)):
        for index, count in source.bins.items():
            target.add(_coarse(index), count)
    bins = sorted(production.bins.keys() | shadow.bins.keys())
    return {
        "edges": [list(_coarse_range(index)) for index in bins],
        "production": [production.bins.get(index, 0) for index in bins],
        "shadow": [shadow.bins.get(index, 0) for index in bins],
    }


def _heatmap(field: ScoreField) -> dict[str, Any]:
    cells: dict[tuple[int, int], int] = {}
    for (x, y), count in field.joint.items():
        key = (_coarse(x), _coarse(y))
        cells[key] = cells.get(key, 0) + count
    bins = sorted({x for x, _ in cells} | {y for _, y in cells})
    position = {index: i for i, index in enumerate(bins)}
    return {
        "edges": [list(_coarse_range(index)) for index in bins],
        # [production bin, shadow bin, pairs]
        "cells": [[position[x], position[y], count] for (x, y), count in sorted(cells.items())],
    }


def _label(field: LabelField, confidence: float) -> dict[str, Any]:
    labels = sorted({a for a, _ in field.confusion} | {b for _, b in field.confusion},
                    key=_label_order)  # fmt: skip
    matrix = [[field.confusion.get((a, b), 0) for b in labels] for a in labels]
    return {
        "derived": field.derived or None,
        "label_agreement": stats.proportion(field.agree, field.n, confidence),
        "labels": labels,
        "confusion": matrix,  # rows: production's label, columns: the shadow's
        "kappa": stats.cohen_kappa(field.confusion),
        "directional": _directional(labels, matrix, confidence),
    }


def _label_order(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _directional(
    labels: list[str], matrix: list[list[int]], confidence: float
) -> list[dict[str, Any]] | None:
    """For two classes: how often the shadow says the other class, from each side."""
    if len(labels) != 2:
        return None
    found = []
    for row, (ours, theirs) in ((0, labels), (1, labels[::-1])):
        said = sum(matrix[row])
        flips = matrix[row][1 - row]
        found.append({
            "production": ours, "shadow": theirs,
            "share": stats.proportion(flips, said, confidence),
            "text": f"shadow says {theirs} where production said {ours}",
        })  # fmt: skip
    return found


def _text(field: TextField, confidence: float) -> dict[str, Any]:
    similarity = stats.quantiles(field.similarity, float)
    ratio = stats.weighted_mean(
        (log_ratio_bin_middle(index), count) for index, count in field.length_ratio.bins.items()
    )
    return {
        "exact_match": stats.proportion(field.agree, field.n, confidence),
        "normalized_match": stats.proportion(field.normalized_agree, field.n, confidence),
        "similarity": {
            "p10": _quantile(field.similarity, 0.1),
            "p50": similarity["p50"],
            "p90": similarity["p90"],
            "histogram": [field.similarity.bins.get(i, 0) for i in range(101)],
        },
        "length_ratio": None if ratio is None else math.exp(ratio),
        "mean_chars": {
            "production": field.production_chars / field.n if field.n else None,
            "shadow": field.shadow_chars / field.n if field.n else None,
        },
    }


def _quantile(counts: Counts, q: float) -> float | None:
    index = stats.quantile_index(counts, q)
    return None if index is None else float(index)


def _bytes(field: BytesField) -> dict[str, Any]:
    return {
        "mean_bytes": {
            "production": field.production_bytes / field.n if field.n else None,
            "shadow": field.shadow_bytes / field.n if field.n else None,
        },
    }
