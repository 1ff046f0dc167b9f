"""The on-disk log streams: rotation keeps them bounded, numbering survives rotation and
restarts, and filter patterns match as CloudWatch's do."""

from __future__ import annotations

from pathlib import Path

import pytest

from shadowserve.domain.arns import Scope
from shadowserve.logs.patterns import UnsupportedPattern, compile_pattern
from shadowserve.logs.store import LogLimits, LogStore

SCOPE = Scope("123456789012", "us-east-1")
GROUP = "/aws/sagemaker/Endpoints/ep"


def test_rotation_bounds_a_stream_and_keeps_the_newest(tmp_path: Path) -> None:
    limits = LogLimits(max_file_bytes=2_000, keep_files=2)
    store = LogStore(tmp_path, limits)
    writer = store.writer(SCOPE, GROUP, "AllTraffic/i-1")
    for index in range(500):
        writer.write(f"line {index:04d} " + "x" * 40)
    stored = sum(p.stat().st_size for p in tmp_path.rglob("events*.jsonl"))
    assert stored <= 3 * 2_000
    events = list(store.events(SCOPE, GROUP, "AllTraffic/i-1"))
    assert events[-1].message.startswith("line 0499")
    numbers = [event.number for event in events]
    assert numbers == list(range(numbers[0], 501))  # contiguous, never reused
    # A new writer (a server restart) goes on numbering where the stream left off.
    writer.close()
    again = LogStore(tmp_path, limits).writer(SCOPE, GROUP, "AllTraffic/i-1")
    again.write("after restart")
    assert list(store.events(SCOPE, GROUP, "AllTraffic/i-1"))[-1].number == 501
    (info,) = store.streams(SCOPE, GROUP)
    assert info.name == "AllTraffic/i-1" and info.last_event is not None
    assert [name for name, _, _ in store.groups(SCOPE)] == [GROUP]


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    writer = store.writer(SCOPE, GROUP, "s")
    writer.write("whole")
    writer.close()
    (path,) = tmp_path.rglob("events.jsonl")
    with path.open("a") as handle:
        handle.write('{"n": 2, "t": 1, "i"')
    assert [e.message for e in store.events(SCOPE, GROUP, "s")] == ["whole"]


@pytest.mark.parametrize(
    ("pattern", "message", "matches"),
    [
        ("", "anything", True),
        ("ERROR", "an ERROR here", True),
        ("ERROR", "an error here", False),  # case-sensitive
        ("ERROR model", "model ERROR", True),
        ("ERROR model", "ERROR", False),
        ('"model failed"', "the model failed to load", True),
        ('"model failed"', "failed model", False),
        ("?ERROR ?Traceback", "Traceback (most recent call last):", True),
        ("?ERROR ?Traceback", "all fine", False),
        ("predict -health", "predict health", False),
        ("predict -health", "predict [1]", True),
    ],
)
def test_filter_patterns(pattern: str, message: str, matches: bool) -> None:
    assert compile_pattern(pattern)(message) is matches


def test_structured_patterns_are_refused_with_a_reason() -> None:
    for pattern in ('{ $.level = "ERROR" }', "[ip, user]", '"unclosed'):
        with pytest.raises(UnsupportedPattern):
            compile_pattern(pattern)


def test_old_streams_of_gone_instances_are_pruned_past_the_total_bound(tmp_path: Path) -> None:
    store = LogStore(tmp_path, LogLimits(max_file_bytes=10_000, max_total_bytes=5_000))
    old = store.writer(SCOPE, GROUP, "AllTraffic/i-old")
    for _ in range(100):
        old.write("x" * 50)
    running = store.writer(SCOPE, GROUP, "AllTraffic/i-running")
    running.write("still here")
    store.release(old)  # its instance stopped
    store.writer(SCOPE, GROUP, "AllTraffic/i-new").write("new")
    names = [info.name for info in store.streams(SCOPE, GROUP)]
    assert names == ["AllTraffic/i-new", "AllTraffic/i-running"]
