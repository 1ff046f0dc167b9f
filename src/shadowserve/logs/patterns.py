"""CloudWatch Logs' filter patterns for unstructured text (pure).

``ERROR`` matches events containing the term; ``ERROR Traceback`` both terms; ``"model
failed"`` the phrase; ``?ERROR ?Traceback`` either; ``-DEBUG`` excludes. Matching is
case-sensitive, as CloudWatch's. JSON (``{ $.level = … }``) and space-delimited (``[a, b]``)
patterns are refused with a message saying so.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

Matcher = Callable[[str], bool]


class UnsupportedPattern(ValueError):
    pass


@dataclass(frozen=True)
class _Terms:
    required: tuple[str, ...]
    any_of: tuple[str, ...]
    excluded: tuple[str, ...]

    def __call__(self, message: str) -> bool:
        return (
            all(term in message for term in self.required)
            and (not self.any_of or any(term in message for term in self.any_of))
            and not any(term in message for term in self.excluded)
        )


def compile_pattern(pattern: str | None) -> Matcher:
    text = (pattern or "").strip()
    if not text or text == '""':
        return lambda _message: True
    if text[0] in "{[":
        raise UnsupportedPattern(
            "JSON and space-delimited filter patterns are not supported by shadowserve; "
            "use terms, quoted phrases, ?alternatives and -exclusions."
        )
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UnsupportedPattern(f"The filter pattern is not valid: {exc}.") from exc
    required, any_of, excluded = [], [], []
    for word in words:
        if word.startswith("?") and len(word) > 1:
            any_of.append(word[1:])
        elif word.startswith("-") and len(word) > 1:
            excluded.append(word[1:])
        else:
            required.append(word)
    return _Terms(tuple(required), tuple(any_of), tuple(excluded))
