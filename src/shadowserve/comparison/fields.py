"""What is kept per compared field: sums, counts and fixed-bin histograms that merge by
addition. One class per kind of output: scores, labels, text, opaque bytes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from rapidfuzz import fuzz

from shadowserve.comparison.bins import Counts, diff_bin, log_ratio_bin, score_bin

MAX_LABELS = 50  # distinct labels kept per side; the rest count as OTHER_LABEL
OTHER_LABEL = "(other)"


@dataclass
class FieldAggregate:
    """What every kind keeps: pairs seen, pairs that agree, a side missing the field, and the
    noise probes (two answers of the shadow to one request)."""

    kind: ClassVar[str] = ""
    n: int = 0
    agree: int = 0
    missing_in_shadow: int = 0
    missing_in_production: int = 0
    probes: int = 0
    probe_disagreements: int = 0

    def counted(self, agree: bool) -> bool:
        """One more pair of this field, agreeing or not; returns ``agree``."""
        self.n += 1
        self.agree += agree
        return agree

    def probe(self, agree: bool) -> None:
        self.probes += 1
        self.probe_disagreements += not agree

    def missing(self, in_shadow: bool) -> None:
        if in_shadow:
            self.missing_in_shadow += 1
        else:
            self.missing_in_production += 1

    def merge(self, other: FieldAggregate) -> None:
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(other, item.name)
            if isinstance(mine, Counts):
                mine.merge(theirs)
            elif isinstance(mine, dict):
                for key, count in theirs.items():
                    mine[key] = mine.get(key, 0) + count
            elif isinstance(mine, int | float) and not isinstance(mine, bool):
                setattr(self, item.name, mine + theirs)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": self.kind}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Counts):
                body[item.name] = value.to_json()
            elif isinstance(value, dict):
                body[item.name] = [[*key, count] for key, count in value.items()]
            else:
                body[item.name] = value
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FieldAggregate:
        kind = KINDS[body["kind"]]
        values: dict[str, Any] = {}
        for item in fields(kind):
            if item.name not in body:
                continue
            raw = body[item.name]
            if item.type == "Counts":
                values[item.name] = Counts.from_json(raw)
            elif item.type.startswith("dict"):
                values[item.name] = {tuple(entry[:-1]): entry[-1] for entry in raw}
            else:
                values[item.name] = raw
        return kind(**values)


@dataclass
class ScoreField(FieldAggregate):
    kind: ClassVar[str] = "score"
    sum_production: float = 0.0
    sum_shadow: float = 0.0
    sum_production_sq: float = 0.0
    sum_shadow_sq: float = 0.0
    sum_product: float = 0.0
    sum_diff: float = 0.0  # shadow - production
    sum_diff_sq: float = 0.0
    abs_diff: Counts = field(default_factory=Counts)
    rel_diff: Counts = field(default_factory=Counts)  # |a - b| / max(|a|, |b|)
    production: Counts = field(default_factory=Counts)  # score bins of each side
    shadow: Counts = field(default_factory=Counts)
    joint: dict[tuple[int, int], int] = field(default_factory=dict)  # (production, shadow) bins

    def add(self, production: float, shadow: float, tolerance: float) -> bool:
        agree = math.isclose(production, shadow, rel_tol=tolerance, abs_tol=tolerance)
        difference = shadow - production
        self.sum_production += production
        self.sum_shadow += shadow
        self.sum_production_sq += production * production
        self.sum_shadow_sq += shadow * shadow
        self.sum_product += production * shadow
        self.sum_diff += difference
        self.sum_diff_sq += difference * difference
        self.abs_diff.add(diff_bin(abs(difference)))
        scale = max(abs(production), abs(shadow))
        self.rel_diff.add(diff_bin(abs(difference) / scale if scale else 0.0))
        bins = score_bin(production), score_bin(shadow)
        self.production.add(bins[0])
        self.shadow.add(bins[1])
        self.joint[bins] = self.joint.get(bins, 0) + 1
        return self.counted(agree)


@dataclass
class LabelField(FieldAggregate):
    kind: ClassVar[str] = "label"
    derived: str = ""  # how labels were derived from scores ('' for labels in the output)
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)  # (production, shadow)

    def add(self, production: str, shadow: str, agree: bool) -> bool:
        seen = self._labels()
        key = (_kept(production, seen[0]), _kept(shadow, seen[1]))
        count = self.confusion.get(key, 0)
        self.confusion[key] = count + 1
        if not count:
            seen[0].add(key[0])
            seen[1].add(key[1])
            self.__dict__["_seen_labels"] = (len(self.confusion), *seen)
        return self.counted(agree)

    def _labels(self) -> tuple[set[str], set[str]]:
        """Each side's labels in the confusion matrix. Kept beside it, not a field: taking
        them from the matrix at every pair cost ~190 µs a pair once 60 labels had met (#16);
        rebuilt when keys came in by another way than ``add`` (merge, from_json)."""
        known = self.__dict__.get("_seen_labels")
        if known is None or known[0] != len(self.confusion):
            known = (len(self.confusion), {key[0] for key in self.confusion},
                     {key[1] for key in self.confusion})  # fmt: skip
            self.__dict__["_seen_labels"] = known
        return known[1], known[2]

    def merge(self, other: FieldAggregate) -> None:
        super().merge(other)
        if isinstance(other, LabelField) and not self.derived:
            self.derived = other.derived


@dataclass
class TextField(FieldAggregate):
    kind: ClassVar[str] = "text"
    normalized_agree: int = 0  # equal after collapsing whitespace and case
    similarity: Counts = field(default_factory=Counts)  # rapidfuzz ratio, 0 to 100, bins of 1
    length_ratio: Counts = field(default_factory=Counts)  # ln(shadow / production length)
    production_chars: int = 0
    shadow_chars: int = 0

    def add(self, production: str, shadow: str) -> bool:
        self.normalized_agree += _normalized(production) == _normalized(shadow)
        self.similarity.add(round(fuzz.ratio(production, shadow)))
        self.length_ratio.add(log_ratio_bin(math.log((len(shadow) + 1) / (len(production) + 1))))
        self.production_chars += len(production)
        self.shadow_chars += len(shadow)
        return self.counted(production == shadow)


@dataclass
class BytesField(FieldAggregate):
    kind: ClassVar[str] = "bytes"
    production_bytes: int = 0
    shadow_bytes: int = 0

    def add(self, production: bytes, shadow: bytes) -> bool:
        self.production_bytes += len(production)
        self.shadow_bytes += len(shadow)
        return self.counted(production == shadow)


def _kept(label: str, seen: set[str]) -> str:
    return label if label in seen or len(seen) < MAX_LABELS else OTHER_LABEL


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


KINDS: dict[str, type[FieldAggregate]] = {
    kind.kind: kind for kind in (ScoreField, LabelField, TextField, BytesField)
}
