"""When shadow copies are shed: most of the loop's recent timers late, and for a while after."""

from __future__ import annotations

from shadowserve.dataplane.admission import HOLD_SECONDS, LATE_IN_WINDOW, WINDOW, LagVerdict


def test_one_late_timer_is_not_saturation() -> None:
    verdict = LagVerdict(limit_ms=10)
    verdict.sample(500.0, now=0.0)  # one long pause of a busy host
    for tick in range(1, WINDOW):
        verdict.sample(0.3, now=tick * 0.02)
    assert verdict.admits(now=0.2)


def test_most_timers_late_sheds_for_the_hold_then_admits_again() -> None:
    verdict = LagVerdict(limit_ms=10)
    for tick in range(LATE_IN_WINDOW - 1):
        verdict.sample(25.0, now=tick * 0.02)
    assert verdict.admits(now=0.1)
    verdict.sample(25.0, now=0.12)
    assert not verdict.admits(now=0.12)
    last = 0.12
    for tick in range(WINDOW):  # the loop catches up; the window empties of late timers
        last = 0.14 + tick * 0.02
        verdict.sample(0.2, now=last)
    assert not verdict.admits(now=last + 0.01)  # still within the hold
    assert verdict.admits(now=last + HOLD_SECONDS)


def test_lag_at_the_limit_is_not_late() -> None:
    verdict = LagVerdict(limit_ms=10)
    for tick in range(WINDOW):
        verdict.sample(10.0, now=tick * 0.02)
    assert verdict.admits(now=1.0)
