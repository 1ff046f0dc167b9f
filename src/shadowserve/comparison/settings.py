"""How an experiment's outputs are compared, and where users set it: experiment tags
(``shadowserve:compare-mode``, ``shadowserve:ignore``, ``shadowserve:tolerance``,
``shadowserve:label-threshold``) or the same settings as report flags, which win.

Fields are named by JSON Pointer (RFC 6901); ``*`` in a pointer stands for any array
position, and a pointer also covers everything below it (``/metadata`` ignores
``/metadata/request_id``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

MODE_TAG = "shadowserve:compare-mode"
IGNORE_TAG = "shadowserve:ignore"
TOLERANCE_TAG = "shadowserve:tolerance"
LABEL_THRESHOLD_TAG = "shadowserve:label-threshold"
TAGS = (MODE_TAG, IGNORE_TAG, TOLERANCE_TAG, LABEL_THRESHOLD_TAG)


class CompareMode(StrEnum):
    # A new model: its outputs may differ; it must not break errors, latency or the
    # divergence bounds (docs/report.md).
    CANDIDATE = "candidate"
    # A refactor, runtime or hardware migration: outputs must agree within tolerance.
    EQUIVALENCE = "equivalence"


class SettingsError(ValueError):
    """A setting that cannot be parsed; the message says which and why."""


@dataclass(frozen=True)
class CompareSettings:
    mode: CompareMode = CompareMode.CANDIDATE
    ignore: tuple[str, ...] = ()
    tolerance: float = 1e-6  # for every score without a pointer of its own
    tolerances: tuple[tuple[str, float], ...] = ()  # (pointer, tolerance)
    label_threshold: float | None = 0.5  # None: no labels derived from single scores

    def tolerance_for(self, pointer: str) -> float:
        best, best_length = self.tolerance, -1
        for pattern, tolerance in self.tolerances:
            length = len(tokens(pattern))
            if length > best_length and covers(pattern, pointer):
                best, best_length = tolerance, length
        return best

    def ignores(self, pointer: str) -> bool:
        return any(covers(pattern, pointer) for pattern in self.ignore)

    def to_json(self) -> dict[str, object]:
        return {
            "mode": self.mode.value,
            "ignore": list(self.ignore),
            "tolerance": self.tolerance,
            "tolerances": dict(self.tolerances),
            "label_threshold": self.label_threshold,
        }


def tokens(pointer: str) -> list[str]:
    """A JSON Pointer's reference tokens, unescaped (~1 is '/', ~0 is '~')."""
    if pointer == "":
        return []
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def covers(pattern: str, pointer: str) -> bool:
    """Whether ``pattern`` names ``pointer`` or something above it; ``*`` matches any array
    position (and a position collapsed to ``*`` matches any index)."""
    wanted, actual = tokens(pattern), tokens(pointer)
    if len(wanted) > len(actual):
        return False
    return all(w == a or "*" in (w, a) for w, a in zip(wanted, actual, strict=False))


def parse_pointer(text: str) -> str:
    if text != "" and not text.startswith("/"):
        raise SettingsError(f"'{text}' is not a JSON Pointer: it must start with '/'.")
    index = text.find("~")
    while index != -1:
        if text[index + 1 : index + 2] not in ("0", "1"):
            raise SettingsError(f"'{text}' is not a JSON Pointer: '~' must be followed by 0 or 1.")
        index = text.find("~", index + 2)
    return text


def parse_mode(text: str) -> CompareMode:
    try:
        return CompareMode(text.strip().lower())
    except ValueError:
        choices = ", ".join(mode.value for mode in CompareMode)
        raise SettingsError(f"Unknown compare mode '{text}'; use one of: {choices}.") from None


def parse_ignore(text: str) -> tuple[str, ...]:
    return tuple(parse_pointer(item) for item in text.split())


def parse_tolerance(text: str) -> tuple[float | None, tuple[tuple[str, float], ...]]:
    """'1e-4', or 'POINTER=NUMBER …' (a bare number among them sets every other score)."""
    default: float | None = None
    per_pointer: list[tuple[str, float]] = []
    items = text.split()
    if not items:
        raise SettingsError("A tolerance needs a number or POINTER=NUMBER entries.")
    for item in items:
        pointer, equals, number = item.rpartition("=")
        value = _non_negative(number, item)
        if equals:
            per_pointer.append((parse_pointer(pointer), value))
        else:
            default = value
    return default, tuple(per_pointer)


def parse_label_threshold(text: str) -> float | None:
    if text.strip().lower() in ("off", "none"):
        return None
    value = _non_negative(text.strip(), text)
    if value > 1:
        raise SettingsError(f"A label threshold must lie between 0 and 1, not {text}.")
    return value


def _non_negative(number: str, item: str) -> float:
    try:
        value = float(number)
    except ValueError:
        raise SettingsError(f"'{item}' is not a number or POINTER=NUMBER.") from None
    if math.isnan(value) or value < 0 or math.isinf(value):
        raise SettingsError(f"'{item}': a tolerance must be a finite number ≥ 0.")
    return value


@dataclass(frozen=True)
class Overrides:
    """Settings given as text (tags or report flags); None leaves a setting as it is."""

    mode: str | None = None
    ignore: str | None = None
    tolerance: str | None = None
    label_threshold: str | None = None

    def apply(self, settings: CompareSettings) -> CompareSettings:
        """The settings with these applied; SettingsError names the first bad one."""
        if self.mode is not None:
            settings = replace(settings, mode=parse_mode(self.mode))
        if self.ignore is not None:
            settings = replace(settings, ignore=parse_ignore(self.ignore))
        if self.tolerance is not None:
            default, per_pointer = parse_tolerance(self.tolerance)
            settings = replace(settings, tolerances=per_pointer)
            if default is not None:
                settings = replace(settings, tolerance=default)
        if self.label_threshold is not None:
            settings = replace(
                settings, label_threshold=parse_label_threshold(self.label_threshold)
            )
        return settings


def overrides_from_tags(tags: Mapping[str, str]) -> Overrides:
    return Overrides(
        mode=tags.get(MODE_TAG),
        ignore=tags.get(IGNORE_TAG),
        tolerance=tags.get(TOLERANCE_TAG),
        label_threshold=tags.get(LABEL_THRESHOLD_TAG),
    )


def settings_from_tags(
    tags: Mapping[str, str], base: CompareSettings
) -> tuple[CompareSettings, list[str]]:
    """The experiment's settings, and a warning for each tag that could not be used (tags
    may predate validation, or come from a client that skipped it)."""
    settings, warnings = base, []
    for key in TAGS:
        if key not in tags:
            continue
        one = overrides_from_tags({key: tags[key]})
        try:
            settings = one.apply(settings)
        except SettingsError as exc:
            warnings.append(f"Tag {key} ignored: {exc}")
    return settings, warnings


def check_tags(tags: Mapping[str, str]) -> None:
    """Raise SettingsError for the first shadowserve tag that cannot be parsed."""
    for key in TAGS:
        if key in tags:
            try:
                overrides_from_tags({key: tags[key]}).apply(CompareSettings())
            except SettingsError as exc:
                raise SettingsError(f"Tag {key}: {exc}") from None
