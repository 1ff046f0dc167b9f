"""The background passes' thread: a wake brings the next pass before its interval, a wake
during a pass is not lost, and stop ends a long wait at once. No timing is asserted: the
interval is an hour, so a pass that came without a wake would hang the test, not pass it."""

from __future__ import annotations

import threading

from shadowserve.periodic import PeriodicThread

HOUR = 3600.0
WAIT = 30.0  # how long the test waits for a pass that a wake must bring


def test_a_wake_brings_the_next_pass_before_the_interval() -> None:
    wake = threading.Event()
    passes: list[threading.Event] = [threading.Event() for _ in range(3)]
    count = 0

    def work() -> None:
        nonlocal count
        passes[min(count, 2)].set()
        count += 1

    thread = PeriodicThread("test", HOUR, work, wake)
    thread.start()
    try:
        assert passes[0].wait(WAIT)  # the first pass runs at start
        wake.set()
        assert passes[1].wait(WAIT)
        wake.set()
        assert passes[2].wait(WAIT)
    finally:
        thread.stop()


def test_a_wake_during_a_pass_brings_another_pass() -> None:
    wake = threading.Event()
    inside, release, second = threading.Event(), threading.Event(), threading.Event()
    count = 0

    def work() -> None:
        nonlocal count
        count += 1
        if count == 1:
            inside.set()
            release.wait(WAIT)
        else:
            second.set()

    thread = PeriodicThread("test", HOUR, work, wake)
    thread.start()
    try:
        assert inside.wait(WAIT)
        wake.set()  # while the first pass still runs
        release.set()
        assert second.wait(WAIT)
    finally:
        thread.stop()


def test_stop_ends_a_long_wait() -> None:
    ran = threading.Event()
    thread = PeriodicThread("test", lambda: HOUR, ran.set)
    thread.start()
    assert ran.wait(WAIT)
    thread.stop(timeout=WAIT)
    assert thread._thread is not None and not thread._thread.is_alive()
