"""A stub model server speaking SageMaker's container contract, cheap in CPU.

Modes: ``fast`` (answers at once), ``slow`` (sleeps --delay-ms), ``error`` (500 on half of
the calls), ``hang`` (accepts and never answers), ``echo`` (answers with the request's
body). Run: python -m bench.stub --port P --mode M.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from typing import Any

import uvicorn

ANSWER = b'{"label": 1, "score": 0.75}'


def app_for(mode: str, delay_ms: float) -> Any:
    counter = itertools.count()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more, received = True, []
        while more:  # drain the request body
            message = await receive()
            received.append(message.get("body", b""))
            more = message.get("more_body", False)
        status, body = 200, ANSWER
        if mode == "echo" and scope["path"] == "/invocations":
            body = b"".join(received)
        if scope["path"] == "/invocations":
            if mode == "slow":
                await asyncio.sleep(delay_ms / 1000)
            elif mode == "hang":
                await asyncio.Event().wait()
            elif mode == "error" and next(counter) % 2 == 0:
                status, body = 500, b"injected failure"
        elif scope["path"] == "/ping":
            body = b""
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["fast", "slow", "error", "hang", "echo"], default="fast")
    parser.add_argument("--delay-ms", type=float, default=500.0)
    args = parser.parse_args()
    uvicorn.run(
        app_for(args.mode, args.delay_ms), host="127.0.0.1", port=args.port,
        loop="uvloop", http="httptools", log_level="warning", access_log=False,
        timeout_keep_alive=75,
    )  # fmt: skip


if __name__ == "__main__":
    main()
