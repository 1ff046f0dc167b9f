"""Admission for shadow copies: while the gateway's event loop is saturated, copies are shed
before they cost production anything (#16).

A copy is a second upstream call and event on the same loop; when the loop already runs
behind, production's requests queue behind that work. The loop's lag (how late a timer
fires) says so directly. One late timer is not saturation — a busy host delays a process now
and then — so copies are shed only when most of the recent timers were late, and for a
second after, so the decision does not flap at every tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

PERIOD_SECONDS = 0.02  # how often the loop's lag is sampled
WINDOW = 10  # the samples the decision looks at (0.2 s)
LATE_IN_WINDOW = 6  # late samples among them that mean "saturated"
HOLD_SECONDS = 1.0  # how long copies are shed after the loop was found saturated


class LagVerdict:
    """The decision, given the loop's lag samples (kept apart from the timer for tests)."""

    def __init__(self, limit_ms: float) -> None:
        self._limit_ms = limit_ms
        self._late: deque[bool] = deque(maxlen=WINDOW)
        self._shed_until = 0.0

    def sample(self, lag_ms: float, now: float) -> None:
        self._late.append(lag_ms > self._limit_ms)
        if sum(self._late) >= LATE_IN_WINDOW:
            self._shed_until = now + HOLD_SECONDS

    def admits(self, now: float) -> bool:
        return now >= self._shed_until


class LoopLagAdmission:
    """``--shadow-shed-lag-ms``: copies are shed while the loop lags by more than this;
    0 turns shedding off."""

    def __init__(self, limit_ms: float) -> None:
        self._verdict = LagVerdict(limit_ms) if limit_ms > 0 else None
        self._watcher: asyncio.Task[None] | None = None

    def admits(self) -> bool:
        return self._verdict is None or self._verdict.admits(time.monotonic())

    async def start(self) -> None:
        if self._verdict is not None:
            self._watcher = asyncio.create_task(self._watch(self._verdict))

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    async def _watch(self, verdict: LagVerdict) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(PERIOD_SECONDS)
            now = time.monotonic()
            verdict.sample((now - before - PERIOD_SECONDS) * 1000, now)
