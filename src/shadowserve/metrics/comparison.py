"""Do two model outputs agree? Byte equality for opaque payloads; for JSON and CSV a
structure-aware comparison: labels (strings, integers, booleans) must match, scores (floats)
may differ by a tolerance, and object key order never matters."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

JSON_TYPES = {"application/json", "application/jsonlines", "application/x-json"}
CSV_TYPES = {"text/csv"}


@dataclass
class OutputComparison:
    kind: str  # "json", "csv" or "bytes"
    equal: bool = True
    labels: int = 0
    labels_agree: int = 0
    scores: int = 0
    score_abs_sum: float = 0.0
    score_abs_max: float = 0.0
    notes: list[str] = field(default_factory=list)

    def label(self, same: bool) -> None:
        self.labels += 1
        self.labels_agree += same
        self.equal = self.equal and same

    def score(self, a: float, b: float, tolerance: float) -> None:
        difference = abs(a - b)
        self.scores += 1
        self.score_abs_sum += difference
        self.score_abs_max = max(self.score_abs_max, difference)
        # Relative for large scores, absolute near zero.
        close = math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
        self.equal = self.equal and close


def compare_outputs(
    production: bytes,
    production_type: str | None,
    shadow: bytes,
    shadow_type: str | None,
    tolerance: float,
) -> OutputComparison:
    media = _media(production_type)
    if media == _media(shadow_type):
        if media in JSON_TYPES:
            parsed = _parse_json(production, shadow)
            if parsed is not None:
                result = OutputComparison("json")
                _walk(parsed[0], parsed[1], tolerance, result)
                return result
        if media in CSV_TYPES:
            rows = _parse_csv(production, shadow)
            if rows is not None:
                result = OutputComparison("csv")
                _walk(rows[0], rows[1], tolerance, result)
                return result
    return OutputComparison("bytes", equal=production == shadow)


def _walk(a: Any, b: Any, tolerance: float, result: OutputComparison) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a.keys() | b.keys():
            if key in a and key in b:
                _walk(a[key], b[key], tolerance, result)
            else:
                result.label(False)
        return
    if isinstance(a, list) and isinstance(b, list):
        for x, y in zip(a, b, strict=False):
            _walk(x, y, tolerance, result)
        for _ in range(abs(len(a) - len(b))):
            result.label(False)
        return
    if _is_number(a) and _is_number(b) and (isinstance(a, float) or isinstance(b, float)):
        result.score(float(a), float(b), tolerance)
        return
    result.label(a == b and type(a) is type(b))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_json(a: bytes, b: bytes) -> tuple[Any, Any] | None:
    try:
        return json.loads(a), json.loads(b)
    except ValueError:
        return None


def _parse_csv(a: bytes, b: bytes) -> tuple[list[list[Any]], list[list[Any]]] | None:
    try:
        return _csv_rows(a.decode()), _csv_rows(b.decode())
    except (UnicodeDecodeError, csv.Error):
        return None


def _csv_rows(text: str) -> list[list[Any]]:
    return [[_cell(cell) for cell in row] for row in csv.reader(io.StringIO(text)) if row]


def _cell(cell: str) -> Any:
    """Cells that read as decimals are scores; integers and words are labels."""
    text = cell.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()
