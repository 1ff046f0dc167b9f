"""Redaction of CustomAttributes keys before a shadow's copy is sent."""

from __future__ import annotations

import pytest

from shadowserve.domain.redaction import RedactionError, redact, redacted_keys

KEYS = redacted_keys("user_id session")


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ("trace=abc,user_id=42", "trace=abc"),
        ("user_id=42;trace=abc", "trace=abc"),
        ("a=1, session=2, b=3", "a=1, b=3"),
        ("session", None),
        ("user_id=1", None),
        ("user_identity=1", "user_identity=1"),  # whole keys only
        (None, None),
    ],
)
def test_listed_keys_are_removed_and_the_rest_kept(
    attributes: str | None, expected: str | None
) -> None:
    assert redact(attributes, KEYS) == expected


def test_nothing_listed_changes_nothing() -> None:
    assert redact("user_id=1", frozenset()) == "user_id=1"


@pytest.mark.parametrize("value", ["", "   ", "a=b", "ok bad!"])
def test_a_tag_that_is_not_keys_is_refused(value: str) -> None:
    with pytest.raises(RedactionError):
        redacted_keys(value)
