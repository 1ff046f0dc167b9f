"""The shadow-call process: makes the shadow copies' HTTP calls for its gateway, so that their
CPU is not spent on the event loop production's requests wait on (#16). Orders arrive on
stdin, results leave on stdout (dataplane/shadow_wire.py); it exits when stdin closes.

Run by the gateway: python -m shadowserve.dataplane.shadow_child --concurrency N --timeout S
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

import uvloop

from shadowserve.dataplane.model_client import call_model, model_http_client
from shadowserve.dataplane.shadow_wire import CallOrder, CallResult, frame, read_frame


class OrderedUrls:
    """The Upstream of one order: the workers the gateway named, in its order; those that
    refuse are skipped for the rest of the call and reported back."""

    def __init__(self, urls: tuple[str, ...]) -> None:
        self.workers = urls
        self.unreached: tuple[str, ...] = ()

    @property
    def healthy_urls(self) -> tuple[str, ...]:
        return tuple(url for url in self.workers if url not in self.unreached)

    def lease(self, exclude: frozenset[str] = frozenset()) -> str | None:
        return next((url for url in self.healthy_urls if url not in exclude), None)

    def release(self) -> None:
        """Leases are the gateway's (it took one for the order)."""

    def mark_down(self, url: str) -> None:
        self.unreached = (*self.unreached, url)


async def serve(concurrency: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout)
    client = model_http_client(concurrency)
    slots = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task[None]] = set()

    async def carry_out(order: CallOrder) -> None:
        async with slots:
            urls = OrderedUrls(order.urls)
            answer = await call_model(client, urls, order.call, timeout)
        transport.write(frame(CallResult(order.order_id, answer, urls.unreached)))

    try:
        while (order := await read_frame(reader)) is not None:
            assert isinstance(order, CallOrder)
            task = asyncio.create_task(carry_out(order))
            running.add(task)
            task.add_done_callback(running.discard)
    finally:  # the gateway closed our stdin: it is stopping, or gone
        for task in running:
            task.cancel()
        for task in list(running):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--timeout", type=float, required=True)
    args = parser.parse_args()
    # Ctrl-C reaches the whole process group; the gateway stops us by closing stdin once it
    # has stopped taking requests.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    uvloop.run(serve(args.concurrency, args.timeout))


if __name__ == "__main__":
    main()
