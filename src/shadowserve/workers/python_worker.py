"""The built-in model worker: one process, one model, SageMaker's container contract.

``GET /ping`` answers 200 once the model is loaded; ``POST /invocations`` runs the handlers.
Run as ``python -m shadowserve.workers.python_worker --model-dir D [--code-dir C]
--port-file F --error-file E --parent-pid P``. It exits by itself when its parent (the
server) is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from shadowserve.workers.handlers import (
    Handlers,
    ModelLoadError,
    UnsupportedMediaType,
    load_handlers,
)

LOAD_FAILED = 3


class WorkerApp:
    """A bare ASGI app: no framework on the worker's hot path."""

    def __init__(self, handlers: Handlers) -> None:
        self.handlers = handlers
        # One prediction at a time per worker, as SageMaker containers run; /ping stays
        # responsive because predictions run in a thread.
        self._lock = asyncio.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        path, method = scope["path"], scope["method"]
        if path == "/ping" and method == "GET":
            await _respond(send, 200, b"", "text/plain")
        elif path == "/invocations" and method == "POST":
            await self._invoke(scope, receive, send)
        else:
            await _respond(send, 404, b"not found", "text/plain")

    async def _invoke(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await _read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        content_type = headers.get("content-type", "application/json")
        accept = headers.get("accept", "application/json")
        async with self._lock:
            try:
                result, out_type = await asyncio.to_thread(
                    self.handlers.invoke, body, content_type, accept
                )
            except UnsupportedMediaType as exc:
                await _respond(send, 415, str(exc).encode(), "text/plain")
                return
            except Exception as exc:
                traceback.print_exc()  # to the endpoint's log stream, as in SageMaker
                message = f"{type(exc).__name__}: {exc}".encode()
                await _respond(send, 500, message, "text/plain")
                return
            if not isinstance(result, bytes):
                await _stream(send, result, out_type)
                return
        await _respond(send, 200, result, out_type)


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(
    send: Any,
    status: int,
    body: bytes,
    content_type: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type.encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _stream(send: Any, chunks: Iterator[bytes], content_type: str) -> None:
    """Chunked transfer, one HTTP chunk per item the handler yields, each sent as soon as
    it is made. A handler that raises midway breaks the connection off, which the server
    reports to the caller as a ModelStreamError."""
    start = {"type": "http.response.start", "status": 200,
             "headers": [(b"content-type", content_type.encode())]}  # fmt: skip
    await send(start)
    done = object()
    while True:
        try:
            chunk = await asyncio.to_thread(next, chunks, done)
        except Exception:
            traceback.print_exc()
            raise  # uvicorn drops the connection: the chunked body never ends properly
        if chunk is done:
            break
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def _watch_parent(parent_pid: int) -> None:
    """Exit when the server is gone, even after SIGKILL (we are re-parented then)."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(0)
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--code-dir", type=Path, help="default: MODEL_DIR/code")
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--error-file", type=Path, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    args = parser.parse_args(argv)
    threading.Thread(target=_watch_parent, args=(args.parent_pid,), daemon=True).start()
    try:
        code_dir = args.code_dir or args.model_dir / "code"
        handlers = load_handlers(args.model_dir, code_dir, os.environ.get("SAGEMAKER_PROGRAM"))
    except ModelLoadError as exc:
        args.error_file.write_text(str(exc))
        if exc.__cause__ is not None:  # the model's own error, with where it was raised
            traceback.print_exception(exc.__cause__)
        print(f"The model failed to load: {exc}", file=sys.stderr)
        sys.exit(LOAD_FAILED)
    except Exception as exc:
        args.error_file.write_text(f"{type(exc).__name__}: {exc}")
        traceback.print_exc()
        sys.exit(LOAD_FAILED)
    sock = socket.socket()
    # Accepted connections inherit this: without it, a response's header and body writes
    # meet the client's delayed ACK and every call on a kept-alive connection waits ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((args.host, 0))
    config = uvicorn.Config(WorkerApp(handlers), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    partial = args.port_file.with_suffix(".partial")
    partial.write_text(str(sock.getsockname()[1]))
    partial.replace(args.port_file)
    print(f"Model loaded from {args.model_dir}; serving /ping and /invocations", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
