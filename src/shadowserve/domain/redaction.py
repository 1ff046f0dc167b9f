"""Which CustomAttributes keys an experiment keeps from its shadow (pure).

Set with the experiment tag ``shadowserve:redact-custom-attributes`` = keys separated by
spaces, e.g. ``user_id session`` (tag values may not hold commas). CustomAttributes is free
text; the common form is ``key=value`` pairs separated by ``,`` or ``;``
(``trace=abc,user_id=42``). Before the copy goes to the shadow, every pair whose key is
listed (and a bare listed key) is removed, separators of the rest kept; production always
gets the header as the caller sent it.
"""

from __future__ import annotations

import re

REDACT_TAG = "shadowserve:redact-custom-attributes"
_KEY = re.compile(r"^[A-Za-z0-9_.\-:/@+]{1,128}$")
_PARTS = re.compile(r"([,;])")


class RedactionError(ValueError):
    pass


def redacted_keys(value: str | None) -> frozenset[str]:
    """The keys a tag value names; RedactionError for one that is not a key."""
    if value is None:
        return frozenset()
    keys = value.split()
    bad = [key for key in keys if not _KEY.match(key)]
    if bad or not keys:
        raise RedactionError(
            f"Tag {REDACT_TAG} must list CustomAttributes keys separated by spaces "
            f"(letters, digits, _ . - : / @ +); got {value!r}."
        )
    return frozenset(keys)


def redact(attributes: str | None, keys: frozenset[str]) -> str | None:
    """The attributes without the listed keys; None when nothing is left."""
    if attributes is None or not keys:
        return attributes
    pieces = _PARTS.split(attributes)
    kept: list[str] = []
    for index in range(0, len(pieces), 2):
        pair = pieces[index]
        if pair.split("=", 1)[0].strip() in keys:
            continue
        if kept:
            kept.append(pieces[index - 1])
        kept.append(pair)
    text = "".join(kept).strip()
    return text or None
