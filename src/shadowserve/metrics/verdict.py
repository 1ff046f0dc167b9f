"""Promote or not: the verdict's rules, on the report's figures (pure, so they are tested on
made-up figures in milliseconds). Every failed check names its figure and the bound it broke.

Both modes check errors, latency (per request: the shadow's latency over production's on the
same request, judged by the median ratio's interval, so one stall cannot fail an identical
shadow; a host short of CPU still slows the shadow more, docs/report.md) and fields the
shadow stops returning.
*equivalence* then wants outputs to agree; *candidate* lets them differ within divergence
bounds: labels mostly kept, scores still ranked alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from shadowserve.comparison.settings import CompareMode

MIN_FIELD_PAIRS = 30  # a field seen fewer times is reported, not judged


@dataclass(frozen=True)
class Thresholds:
    """When the shadow may be promoted (docs/report.md explains each)."""

    min_pairs: int = 100
    max_error_rate_increase: float = 0.01
    max_latency_increase: float = 0.20  # median per-request latency ratio at most 1.2
    max_missing_share: float = 0.01  # of pairs where the shadow lacks a production field
    min_output_agreement: float = 0.99  # equivalence mode
    min_label_agreement: float = 0.80  # candidate mode, every label field
    min_score_correlation: float = 0.50  # candidate mode, Spearman, every score field
    max_score_psi: float | None = None  # candidate mode, off unless set
    confidence: float = 0.95


class Decision(StrEnum):
    PROMOTE = "promote"
    DONT_PROMOTE = "dont_promote"
    NOT_ENOUGH_DATA = "not_enough_data"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    text: str


def verdict(
    variants: dict[str, dict[str, Any]],
    comparison: dict[str, Any],
    mode: CompareMode,
    thresholds: Thresholds,
) -> dict[str, Any]:
    body: dict[str, Any] = {"mode": mode.value, "thresholds": asdict(thresholds)}
    pairs = comparison["pairs"]
    if pairs < thresholds.min_pairs or "shadow" not in variants:
        text = f"{pairs} paired requests; at least {thresholds.min_pairs} needed."
        return body | {"decision": Decision.NOT_ENOUGH_DATA.value, "reasons": [text],
                       "checks": [], "notes": []}  # fmt: skip
    checks = [
        _errors(variants, thresholds),
        *_latency(comparison, thresholds),
        *_missing(comparison["outputs"], thresholds),
    ]
    notes: list[str] = []
    if mode == CompareMode.EQUIVALENCE:
        checks.append(_output_agreement(comparison, thresholds))
    else:
        checks += _divergence(comparison["outputs"], thresholds, notes)
    failed = [check.text for check in checks if not check.passed]
    decision = Decision.DONT_PROMOTE if failed else Decision.PROMOTE
    return body | {
        "decision": decision.value,
        "reasons": failed or ["Every check passed."],
        "checks": [asdict(check) for check in checks],
        "notes": notes,
    }


def _errors(variants: dict[str, dict[str, Any]], thresholds: Thresholds) -> Check:
    production = variants["production"]["error_rate"]["rate"] or 0.0
    shadow = variants["shadow"]["error_rate"]["rate"] or 0.0
    bound = thresholds.max_error_rate_increase
    passed = shadow - production <= bound
    return Check(
        "errors", passed,
        f"Shadow error rate {shadow:.2%} against production's {production:.2%}: "
        f"{(shadow - production) * 100:+.2f} points, at most {bound * 100:+.2f} allowed.",
    )  # fmt: skip


def _latency(comparison: dict[str, Any], thresholds: Thresholds) -> list[Check]:
    median = comparison["latency_ratio_median"]
    if median is None:
        return []
    bound = 1 + thresholds.max_latency_increase
    low, high = median["ci"]
    return [Check(
        "latency", low <= bound,
        f"Shadow latency over production's on the same request: median {median['median']:.2f}x "
        f"of {median['pairs']} pairs ({thresholds.confidence:.0%} CI {low:.2f}x to {high:.2f}x); "
        f"at most {bound:.2f}x allowed.",
    )]  # fmt: skip


def _missing(outputs: dict[str, Any], thresholds: Thresholds) -> list[Check]:
    checks = []
    for field in _judged(outputs):
        missing = field["missing_in_shadow"]
        seen = field["pairs"] + missing
        if missing and seen >= MIN_FIELD_PAIRS:
            share = missing / seen
            checks.append(Check(
                f"missing {field['field']}", share <= thresholds.max_missing_share,
                f"The shadow's answers lack {_name(field)} in {share:.1%} of {seen} pairs where "
                f"production has it; at most {thresholds.max_missing_share:.1%} allowed.",
            ))  # fmt: skip
    return checks


def _output_agreement(comparison: dict[str, Any], thresholds: Thresholds) -> Check:
    agreement = comparison["outputs"]["output_agreement"]
    bound = thresholds.min_output_agreement
    if agreement["rate"] is None:
        return Check("output agreement", False,
                     "No request was answered successfully by both variants.")  # fmt: skip
    high = agreement["ci"][1]
    worst = _most_disagreeing(comparison["outputs"])
    return Check(
        "output agreement", high >= bound,
        f"Outputs agree on {agreement['rate']:.1%} of {agreement['of']} requests "
        f"({thresholds.confidence:.0%} CI up to {high:.1%}); equivalence needs {bound:.1%}"
        + (f"; most differences in {worst}." if worst and high < bound else "."),
    )  # fmt: skip


def _divergence(outputs: dict[str, Any], thresholds: Thresholds, notes: list[str]) -> list[Check]:
    checks = []
    # Scores that are noise (a model that is not deterministic) must still rank like
    # production's: otherwise a candidate answering at random would pass as all noise.
    for field in outputs["fields"]:
        if field["pairs"] < MIN_FIELD_PAIRS or field["ignored"]:
            continue
        if field["noise"] and field["kind"] != "score":
            continue
        change = _constant_change(field) if field["kind"] == "label" else None
        if change is not None:
            ours, theirs = change
            notes.append(
                f"{_name(field)} is {ours!r} in every production answer and {theirs!r} in every "
                "shadow answer: a real difference (not noise), not judged in candidate mode, "
                "as it carries no prediction. Equivalence mode counts it."
            )
        elif field["kind"] == "label":
            checks.append(_label_kept(field, thresholds))
        elif field["kind"] == "score":
            checks += _score_ranked(field, thresholds)
    return checks


def _label_kept(field: dict[str, Any], thresholds: Thresholds) -> Check:
    agreement, bound = field["label_agreement"], thresholds.min_label_agreement
    high = agreement["ci"][1]
    return Check(
        f"labels {field['field']}", high >= bound,
        f"Labels {_name(field)} agree on {agreement['rate']:.1%} of {agreement['of']} pairs "
        f"({thresholds.confidence:.0%} CI up to {high:.1%}); a candidate must keep {bound:.0%}.",
    )  # fmt: skip


def _score_ranked(field: dict[str, Any], thresholds: Thresholds) -> list[Check]:
    checks = []
    rho, bound = field["spearman"], thresholds.min_score_correlation
    if rho is not None:
        checks.append(Check(
            f"scores {field['field']}", rho >= bound,
            f"Scores {_name(field)} rank like production's at Spearman rho = {rho:.2f}; "
            f"a candidate needs at least {bound:.2f}.",
        ))  # fmt: skip
    psi, most = field["psi"], thresholds.max_score_psi
    if most is not None and psi is not None:
        checks.append(Check(
            f"score shift {field['field']}", psi <= most,
            f"Scores {_name(field)} shifted by PSI {psi:.3f}; at most {most:.3f} allowed.",
        ))  # fmt: skip
    return checks


def _constant_change(field: dict[str, Any]) -> tuple[str, str] | None:
    """(production's, shadow's) label if the field is one value in production and another in
    the shadow, always — a model version, say."""
    labels, matrix = field["labels"], field["confusion"]
    cells = [(labels[i], labels[j]) for i, row in enumerate(matrix)
             for j, count in enumerate(row) if count]  # fmt: skip
    if len(cells) == 1 and cells[0][0] != cells[0][1]:
        return cells[0]
    return None


def _judged(outputs: dict[str, Any]) -> list[dict[str, Any]]:
    """Fields that count: neither noise nor ignored."""
    return [field for field in outputs["fields"] if not field["excluded"]]


def _most_disagreeing(outputs: dict[str, Any]) -> str | None:
    fields = [
        f for f in outputs["fields"] if not f["excluded"] and f["pairs"] > f["agreement"]["count"]
    ]
    if not fields:
        return None
    worst = max(fields, key=lambda f: f["pairs"] - f["agreement"]["count"])
    return f"{_name(worst)} ({worst['pairs'] - worst['agreement']['count']} pairs)"


def _name(field: dict[str, Any]) -> str:
    pointer = field["pointer"] or "(whole answer)"
    derived = field.get("derived")
    return f"{pointer} ({derived})" if derived else pointer
