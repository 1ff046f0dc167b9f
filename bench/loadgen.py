"""An open-loop load generator: requests leave on a fixed schedule whatever the server does,
and latency is measured from the *intended* send time (no coordinated omission), into an
HdrHistogram. Schedule lag is recorded too: a lagging generator invalidates its run."""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from hdrh.histogram import HdrHistogram

from bench.processes import generator_favoured

# A run whose sends fell behind their schedule by more than this at p99 is marked invalid:
# the generator, not the server, was the bottleneck.
LAG_LIMIT_MS = 2.0
# A request unanswered after this long is counted as an error (and its latency recorded as
# this long): enough to show a collapse (nginx behind a hanging mirror) without letting one
# cell take half a minute to drain.
REQUEST_TIMEOUT_S = 5.0


@dataclass
class LoadResult:
    offered_rps: float
    done: int
    elapsed: float  # seconds of the measured window
    sent: int
    errors: int
    latency: HdrHistogram  # microseconds
    lag: HdrHistogram  # microseconds
    values: list[int]  # every measured latency (µs), for resampling (bench/paired.py)

    @property
    def achieved_rps(self) -> float:
        return self.done / max(self.elapsed, 1e-9)

    def merge(self, other: LoadResult) -> LoadResult:
        """Both runs as one: counts added, histograms merged (same offered rate)."""
        latency, lag = _histogram(), _histogram()
        for histogram, parts in ((latency, (self.latency, other.latency)),
                                 (lag, (self.lag, other.lag))):  # fmt: skip
            for part in parts:
                histogram.add(part)
        return LoadResult(self.offered_rps, self.done + other.done,
                          self.elapsed + other.elapsed, self.sent + other.sent,
                          self.errors + other.errors, latency, lag,
                          self.values + other.values)  # fmt: skip

    def summary(self) -> dict[str, Any]:
        def ms(histogram: HdrHistogram, q: float) -> float:
            return round(histogram.get_value_at_percentile(q) / 1000, 3)

        return {
            "offered_rps": round(self.offered_rps, 1),
            "achieved_rps": round(self.achieved_rps, 1),
            "sent": self.sent,
            "errors": self.errors,
            "p50_ms": ms(self.latency, 50),
            "p90_ms": ms(self.latency, 90),
            "p99_ms": ms(self.latency, 99),
            "p999_ms": ms(self.latency, 99.9),
            "max_ms": round(self.latency.get_max_value() / 1000, 3),
            "lag_p99_ms": ms(self.lag, 99),
            "valid": ms(self.lag, 99) <= LAG_LIMIT_MS,  # the generator kept to its schedule
        }


async def _run(url: str, body: bytes, rate: float, seconds: float, warmup: float,
               headers: dict[str, str]) -> LoadResult:  # fmt: skip
    latency, lag = _histogram(), _histogram()
    values: list[int] = []
    connector = aiohttp.TCPConnector(limit=2000, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    counts = {"sent": 0, "errors": 0, "done": 0}
    # Only the requests in flight are kept: a list of every task made the generator's heap
    # grow for the whole run.
    in_flight: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(intended: float, measured: bool) -> None:
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if measured:
                value = max(1, int((time.perf_counter() - intended) * 1e6))
                latency.record_value(value)
                values.append(value)
                counts["done"] += 1
                counts["errors"] += not ok

        interval = 1.0 / rate
        start = time.perf_counter() + 0.05
        total = int((warmup + seconds) * rate)
        measured_from = int(warmup * rate)
        for index in range(total):
            intended = start + index * interval
            delay = intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            measured = index >= measured_from
            if measured:
                lag.record_value(max(1, int((time.perf_counter() - intended) * 1e6)))
                counts["sent"] += 1
            task = asyncio.create_task(one(intended, measured))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        window_end = time.perf_counter()
        await asyncio.gather(*in_flight)
    elapsed = window_end - (start + measured_from * interval)
    return LoadResult(rate, counts["done"], elapsed, counts["sent"], counts["errors"],
                      latency, lag, values)  # fmt: skip


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, 120_000_000, 3)


def open_loop(url: str, body: bytes, rate: float, seconds: float, warmup: float = 1.0,
              headers: dict[str, str] | None = None) -> LoadResult:  # fmt: skip
    # The generator's own full garbage collections paused it for ~100 ms (found with a gc
    # callback: the "gateway stall" 44 s into every soak run was this), so the collector is
    # off while a run is measured, and runs once before it.
    gc.collect()
    gc.disable()
    try:
        with generator_favoured():
            return asyncio.run(_run(url, body, rate, seconds, warmup,
                                    headers or {"Content-Type": "application/json"}))  # fmt: skip
    finally:
        gc.enable()


def interleaved(
    first: str,
    second: str,
    body: bytes,
    rate: float,
    segment: float,
    repeats: int,
    warmup: float,
) -> tuple[LoadResult, LoadResult]:
    """An A/B comparison that host noise cannot bias: short runs of each, alternated
    (A B B A A B …, so neither always goes first), merged per side."""
    return alternated(first, second, body, rate, segment, repeats, warmup).merged()


@dataclass
class Alternation:
    """The runs of an alternated A/B comparison, pair by pair (``first[i]`` ran next to
    ``second[i]``)."""

    first: list[LoadResult]
    second: list[LoadResult]

    def merged(self) -> tuple[LoadResult, LoadResult]:
        return _merged(self.first), _merged(self.second)


def alternated(
    first: str,
    second: str,
    body: bytes,
    rate: float,
    segment: float,
    pairs: int,
    warmup: float,
) -> Alternation:
    """``pairs`` runs of each URL, alternated A B B A A B …, kept apart."""
    runs: dict[str, list[LoadResult]] = {first: [], second: []}
    for index in range(pairs * 2):
        url = (first, second)[(index + index // 2) % 2]
        runs[url].append(open_loop(url, body, rate, segment, warmup))
    return Alternation(runs[first], runs[second])


def _merged(results: list[LoadResult]) -> LoadResult:
    merged = results[0]
    for result in results[1:]:
        merged = merged.merge(result)
    return merged
