"""An open-loop load generator: requests leave on a fixed schedule whatever the server does,
and latency is measured from the *intended* send time (no coordinated omission), into an
HdrHistogram. Schedule lag is recorded too: a lagging generator invalidates its run."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from hdrh.histogram import HdrHistogram

# A run whose sends fell behind their schedule by more than this at p99 is marked invalid:
# the generator, not the server, was the bottleneck.
LAG_LIMIT_MS = 2.0


@dataclass
class LoadResult:
    offered_rps: float
    achieved_rps: float
    sent: int
    errors: int
    latency: HdrHistogram  # microseconds
    lag: HdrHistogram  # microseconds

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
    latency = HdrHistogram(1, 120_000_000, 3)
    lag = HdrHistogram(1, 120_000_000, 3)
    connector = aiohttp.TCPConnector(limit=2000, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    counts = {"sent": 0, "errors": 0, "done": 0}
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(intended: float, measured: bool) -> None:
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if measured:
                latency.record_value(max(1, int((time.perf_counter() - intended) * 1e6)))
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
            tasks.append(asyncio.create_task(one(intended, measured)))
        window_end = time.perf_counter()
        await asyncio.gather(*tasks)
    elapsed = window_end - (start + measured_from * interval)
    return LoadResult(rate, counts["done"] / max(elapsed, 1e-9), counts["sent"],
                      counts["errors"], latency, lag)  # fmt: skip


def open_loop(url: str, body: bytes, rate: float, seconds: float, warmup: float = 1.0,
              headers: dict[str, str] | None = None) -> LoadResult:  # fmt: skip
    return asyncio.run(_run(url, body, rate, seconds, warmup,
                            headers or {"Content-Type": "application/json"}))  # fmt: skip
