"""One model answer, parsed by its kind: JSON (and JSON Lines), CSV, NPY, plain text, or
opaque bytes — chosen by the content type, and by the payload when the type says little.

Structured answers become leaves named by JSON Pointer. Each leaf keeps its concrete pointer
(``/predictions/3``), which lines the two answers up, and a field pointer, which is what is
aggregated and reported: positions of arrays longer than ``MAX_NAMED_POSITIONS`` collapse to
``*`` so a batch or an embedding is one field, not thousands.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from shadowserve.comparison.settings import escape

Scalar = bool | int | float | str | None

JSON_TYPES = {"application/json", "application/x-json"}
JSON_LINES_TYPES = {"application/jsonlines", "application/x-jsonlines", "application/jsonl"}
CSV_TYPES = {"text/csv", "application/csv"}
NPY_TYPES = {"application/x-npy", "application/npy"}
NPY_MAGIC = b"\x93NUMPY"
# Types that say nothing of the payload: it is looked at. Other types (image/png …) are bytes.
UNDECLARED = {"", "application/octet-stream", "binary/octet-stream"}
MAX_NAMED_POSITIONS = 16
MAX_LEAVES = 4096  # beyond this an answer is compared as bytes (the work stays bounded)
# A list of at least two numbers in [0, 1] that sum to 1 (within this) is a probability
# vector: its argmax is a label.
PROBABILITY_SUM_SLACK = 1e-3


@dataclass(frozen=True)
class Leaf:
    field: str  # the field pointer (array positions past the limit are '*')
    value: Scalar


@dataclass
class ParsedOutput:
    format: str  # json | csv | npy | text | bytes
    raw: bytes
    leaves: dict[str, Leaf] = field(default_factory=dict)  # concrete pointer → leaf
    vectors: dict[str, tuple[str, list[float]]] = field(default_factory=dict)  # same, argmax


def parse_output(body: bytes, content_type: str | None) -> ParsedOutput:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        kind = _declared(media)
        document: Any = _UNREAD
        if kind is None:
            kind, document = _sniffed(body) if media in UNDECLARED else ("bytes", _UNREAD)
        if document is _UNREAD:
            document = _document(kind, body)
    except (ValueError, UnicodeDecodeError, csv.Error, RecursionError):
        return ParsedOutput("bytes", body)
    if kind == "text":
        return ParsedOutput("text", body, {"": Leaf("", document)})
    if kind == "bytes":
        return ParsedOutput("bytes", body)
    parsed = ParsedOutput(kind, body)
    if not _walk(document, "", "", parsed):
        return ParsedOutput("bytes", body)
    return parsed


_UNREAD = object()  # a document not read yet


def _declared(media: str) -> str | None:
    if media in JSON_TYPES or media.endswith("+json"):
        return "json"
    if media in JSON_LINES_TYPES:
        return "jsonlines"
    if media in CSV_TYPES:
        return "csv"
    if media in NPY_TYPES:
        return "npy"
    if media.startswith("text/"):
        return "text"
    return None


def _sniffed(body: bytes) -> tuple[str, Any]:
    """The kind of an answer whose content type says nothing, and its document when telling
    meant reading it (JSON: read once, not again by ``_document``)."""
    if body.startswith(NPY_MAGIC):
        return "npy", _UNREAD
    stripped = body.lstrip()[:1]
    if stripped in (b"{", b"[", b'"') or stripped.isdigit() or stripped == b"-":
        try:
            return "json", _loads(body)
        except ValueError:
            pass
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes", _UNREAD
    printable = all(char.isprintable() or char in "\t\r\n" for char in text)
    return ("text", text) if printable else ("bytes", _UNREAD)


def _loads(body: bytes) -> Any:
    """orjson: five to ten times the standard library's speed (#16: a 1 MB array of numbers
    in 12 ms, not 60). What it refuses and Python's json reads (NaN and Infinity, which
    Python models write; integers past 64 bits; UTF-16) goes to the standard library."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _document(kind: str, body: bytes) -> Any:
    if kind == "json":
        return _loads(body)
    if kind == "jsonlines":
        return [_loads(line) for line in body.splitlines() if line.strip()]
    if kind == "csv":
        text = body.decode("utf-8")
        return [[_cell(cell) for cell in row] for row in csv.reader(io.StringIO(text)) if row]
    if kind == "npy":
        return np.load(io.BytesIO(body), allow_pickle=False).tolist()
    if kind == "text":
        return body.decode("utf-8")
    return None


def _cell(cell: str) -> Scalar:
    """CSV cells that read as decimals are scores; integers and words are labels."""
    text = cell.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _walk(value: Any, pointer: str, field_pointer: str, into: ParsedOutput) -> bool:
    """Add the leaves under ``value``; False when there are too many to compare."""
    if isinstance(value, dict):
        return all(
            _walk(item, f"{pointer}/{escape(str(key))}", f"{field_pointer}/{escape(str(key))}",
                  into)
            for key, item in value.items()
        )  # fmt: skip
    if isinstance(value, list):
        collapse = len(value) > MAX_NAMED_POSITIONS
        # The items first: a list past MAX_LEAVES stops the walk at once, without a look at
        # all its items for a probability vector (200,000 numbers took 80 ms, #16).
        if not all(
            _walk(item, f"{pointer}/{index}", f"{field_pointer}/{'*' if collapse else index}",
                  into)
            for index, item in enumerate(value)
        ):  # fmt: skip
            return False
        if _is_probability_vector(value):
            into.vectors[pointer] = (field_pointer, [float(item) for item in value])
        return True
    if len(into.leaves) >= MAX_LEAVES:
        return False
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)  # NaN and infinities compare as labels ('nan' == 'nan')
    into.leaves[pointer] = Leaf(field_pointer, value)
    return True


def _is_probability_vector(values: list[Any]) -> bool:
    if len(values) < 2:
        return False
    if not all(_is_number(item) and 0.0 <= item <= 1.0 for item in values):
        return False
    if all(isinstance(item, int) for item in values):
        return False  # one-hot integers are labels already
    return bool(abs(sum(values) - 1.0) <= PROBABILITY_SUM_SLACK)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
