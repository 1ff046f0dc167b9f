"""Comparison settings from experiment tags and report flags: parsed, validated, layered."""

from __future__ import annotations

import pytest

from shadowserve.comparison.settings import (
    CompareMode,
    CompareSettings,
    Overrides,
    SettingsError,
    check_tags,
    covers,
    settings_from_tags,
)


def test_tags_set_every_setting() -> None:
    settings, warnings = settings_from_tags(
        {
            "shadowserve:compare-mode": "equivalence",
            "shadowserve:ignore": "/request_id /meta/*/ts",
            "shadowserve:tolerance": "0.001 /scores=0.05",
            "shadowserve:label-threshold": "0.3",
            "team": "fraud",
        },
        CompareSettings(),
    )
    assert warnings == []
    assert settings.mode == CompareMode.EQUIVALENCE
    assert settings.ignores("/request_id") and settings.ignores("/meta/3/ts")
    assert not settings.ignores("/meta/3/value")
    assert settings.tolerance_for("/scores/2") == 0.05
    assert settings.tolerance_for("/other") == 0.001
    assert settings.label_threshold == 0.3


def test_report_flags_override_tags() -> None:
    tagged, _ = settings_from_tags({"shadowserve:compare-mode": "equivalence"}, CompareSettings())
    flagged = Overrides(mode="candidate", label_threshold="off").apply(tagged)
    assert flagged.mode == CompareMode.CANDIDATE
    assert flagged.label_threshold is None


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({"shadowserve:compare-mode": "strict"}, "Unknown compare mode 'strict'"),
        ({"shadowserve:ignore": "request_id"}, "must start with '/'"),
        ({"shadowserve:ignore": "/a~2b"}, "'~' must be followed by 0 or 1"),
        ({"shadowserve:tolerance": "/scores=lots"}, "is not a number"),
        ({"shadowserve:tolerance": "-1"}, "finite number ≥ 0"),
        ({"shadowserve:label-threshold": "2"}, "between 0 and 1"),
    ],
)
def test_bad_tags_are_refused_with_the_reason(tags: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        check_tags(tags)
    assert next(iter(tags)) in str(raised.value)
    settings, warnings = settings_from_tags(tags, CompareSettings())
    assert settings == CompareSettings()  # a bad tag stored anyway is skipped, and said so
    assert len(warnings) == 1 and message.split("'", maxsplit=1)[0] in warnings[0]


def test_pointers_cover_what_lies_below_and_stars_match_positions() -> None:
    assert covers("/metadata", "/metadata/request_id")
    assert covers("/predictions/*/id", "/predictions/4/id")
    assert covers("/predictions/3", "/predictions/*")  # a collapsed array
    assert not covers("/predictions/3", "/predictions/4")
    assert not covers("/a/b", "/a")
    assert covers("", "/anything")
