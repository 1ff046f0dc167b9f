"""Line two parsed answers up field by field and say, for each field, what the two sides hold
and whether they agree. The same observations feed the production-vs-shadow comparison and
the noise probes (the shadow against itself)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from shadowserve.comparison.outputs import Leaf, ParsedOutput, Scalar
from shadowserve.comparison.settings import CompareSettings, tokens

STRUCTURED = {"json", "jsonlines", "csv", "npy"}
# Keys whose strings are generated text, whatever their length.
TEXT_KEYS = {
    "generated_text", "text", "content", "completion", "output_text", "answer",
    "summary_text", "translation_text", "response", "message", "outputs",
}  # fmt: skip
TEXT_MIN_CHARS = 40
TEXT_MIN_WORDS = 5


@dataclass(frozen=True)
class Observation:
    """One field of one pair. ``production``/``shadow`` is None where that side lacks it."""

    kind: str  # score | label | text | bytes
    pointer: str  # the field pointer
    production: float | str | bytes | None
    shadow: float | str | bytes | None
    derived: str = ""  # for labels derived from scores: how

    @property
    def field_id(self) -> str:
        return f"{self.kind}:{self.pointer}"


def observe(
    production: ParsedOutput, shadow: ParsedOutput, settings: CompareSettings
) -> list[Observation]:
    if production.format in STRUCTURED and shadow.format in STRUCTURED:
        return _leaves(production, shadow, settings) + _argmax_labels(production, shadow)
    if production.format == shadow.format == "text":
        return [Observation("text", "", _text(production), _text(shadow))]
    return [Observation("bytes", "", production.raw, shadow.raw)]


def split_field_id(identifier: str) -> tuple[str, str]:
    """(kind, pointer) of a field id made by ``Observation.field_id``."""
    kind, _, pointer = identifier.partition(":")
    return kind, pointer


def _text(parsed: ParsedOutput) -> str:
    return str(parsed.leaves[""].value)


def _leaves(
    production: ParsedOutput, shadow: ParsedOutput, settings: CompareSettings
) -> list[Observation]:
    found: list[Observation] = []
    for pointer in production.leaves.keys() | shadow.leaves.keys():
        ours, theirs = production.leaves.get(pointer), shadow.leaves.get(pointer)
        if ours is None or theirs is None:
            present = ours or theirs
            assert present is not None
            kind = _kind_alone(present)
            value = _as_kind(kind, present.value)
            found.append(Observation(kind, present.field, value if ours else None,
                                     value if theirs else None))  # fmt: skip
            continue
        found += _pair(pointer, ours, theirs, production, shadow, settings)
    return found


def _pair(
    pointer: str,
    ours: Leaf,
    theirs: Leaf,
    production: ParsedOutput,
    shadow: ParsedOutput,
    settings: CompareSettings,
) -> list[Observation]:
    a, b, name = ours.value, theirs.value, ours.field
    if _is_number(a) and _is_number(b) and (isinstance(a, float) or isinstance(b, float)):
        found = [Observation("score", name, float(a), float(b))]  # type: ignore[arg-type]
        threshold = settings.label_threshold
        in_vector = _parent(pointer) in production.vectors or _parent(pointer) in shadow.vectors
        if threshold is not None and not in_vector and _unit(a) and _unit(b):
            found.append(Observation("label", name, _above(a, threshold),  # type: ignore[arg-type]
                                     _above(b, threshold), f"score ≥ {threshold:g}"))  # type: ignore[arg-type]  # fmt: skip
        return found
    if isinstance(a, str) and isinstance(b, str) and (_texty(name, a) or _texty(name, b)):
        return [Observation("text", name, a, b)]
    if type(a) is not type(b) and not (_is_number(a) and _is_number(b)):
        return [Observation("label", name, _typed_label(a), _typed_label(b))]
    return [Observation("label", name, _label(a), _label(b))]


def _argmax_labels(production: ParsedOutput, shadow: ParsedOutput) -> list[Observation]:
    found = []
    for pointer in production.vectors.keys() & shadow.vectors.keys():
        name, ours = production.vectors[pointer]
        theirs = shadow.vectors[pointer][1]
        found.append(Observation("label", name, str(_argmax(ours)), str(_argmax(theirs)),
                                 "argmax"))  # fmt: skip
    return found


def _kind_alone(leaf: Leaf) -> str:
    value = leaf.value
    if isinstance(value, float):
        return "score"
    if isinstance(value, str) and _texty(leaf.field, value):
        return "text"
    return "label"


def _as_kind(kind: str, value: Scalar) -> float | str:
    if kind == "score" and isinstance(value, int | float):
        return float(value)
    if kind == "text" and isinstance(value, str):
        return value
    return _label(value)


def _label(value: Scalar) -> str:
    if isinstance(value, str):
        return value
    if type(value) is int:  # the commonest label: json.dumps writes repr's text, at 20x the cost
        return repr(value)
    return json.dumps(value)


def _typed_label(value: Scalar) -> str:
    """Labels of different JSON types never agree: "1" (a string) is not 1."""
    return json.dumps(value)


def _texty(name: str, value: str) -> bool:
    key = tokens(name)[-1] if name else ""
    return (
        key.lower() in TEXT_KEYS
        or len(value) >= TEXT_MIN_CHARS
        or "\n" in value
        or len(value.split()) >= TEXT_MIN_WORDS
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unit(value: object) -> bool:
    return isinstance(value, int | float) and 0.0 <= value <= 1.0


def _above(value: float, threshold: float) -> str:
    return "1" if value >= threshold else "0"


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def _parent(pointer: str) -> str:
    return pointer.rsplit("/", 1)[0] if pointer else ""


def agrees(observation: Observation, settings: CompareSettings) -> bool:
    """Whether one field's two values agree (scores within tolerance, the rest equal)."""
    a, b = observation.production, observation.shadow
    if a is None or b is None:
        return False
    if observation.kind == "score":
        tolerance = settings.tolerance_for(observation.pointer)
        return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)  # type: ignore[arg-type]
    return a == b
