"""Kept-alive HTTP/1.1 connections to workers, for one kind of call: ``POST`` a body, read the
whole answer.

Why not aiohttp's client here (it still serves response streams, model_stream.py): its call
was the largest share of the gateway's CPU (#16; py-spy: ~42 % of the event loop's thread),
and a shadowed request makes two. This does only what a worker call needs — one request at a
time per connection, the answer parsed by httptools (llhttp, the parser under uvicorn) — at
about a fifth of the CPU per call (docs/benchmarks.md). What it leaves out, on purpose:
redirects, cookies, proxies, compression, ``Expect: 100-continue``, HTTP/2.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools


class WorkerUnreached(Exception):
    """The worker refused the connection, or closed it before sending a byte of an answer
    (it died, or is gone): the call may go to another worker."""


class WorkerConnectionError(Exception):
    """The connection broke mid-answer, or the answer was not HTTP."""


@dataclass(frozen=True)
class WorkerReply:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes


@dataclass(frozen=True)
class _Origin:
    host: str
    port: int
    tls: bool
    prefix: bytes  # a path the worker's URL has before /invocations, e.g. b"/model-a"
    host_header: bytes


class _Connection(asyncio.Protocol):
    """One connection; the parser's callbacks collect the answer to the call in flight."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._reply: asyncio.Future[WorkerReply] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._heard = False  # a byte of the current answer arrived
        self._headers_done = False
        self.closed = False
        self.idle_since = 0.0

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, though they are one.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._reply is None:  # nothing was asked: the connection can't be trusted
            self.close()
            return
        self._heard = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(WorkerConnectionError(f"the worker's answer is not HTTP: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._reply is None:
            return
        if self._headers_done and not self._framed():
            self._finish()  # an answer without a length ends with its connection
        elif self._heard:
            self._fail(WorkerConnectionError(f"the connection broke mid-answer ({exc or 'EOF'})"))
        else:
            self._fail(WorkerUnreached(f"the connection closed before an answer ({exc or 'EOF'})"))

    # -- httptools' callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]}, {text}" if key in self._headers else text

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._parser.get_status_code() < 200:  # an interim answer: the real one follows
            self._headers, self._body, self._headers_done = {}, [], False
            return
        if not self._parser.should_keep_alive():
            self.close()
        self._finish()

    # -- ours
    def send(self, head: bytes, body: bytes) -> asyncio.Future[WorkerReply]:
        assert self._transport is not None, "connection_made first"
        assert self._reply is None, "one call at a time"
        self._reply = asyncio.get_running_loop().create_future()
        self._heard = self._headers_done = False
        self._headers, self._body = {}, []
        self._transport.writelines((head, body))
        return self._reply

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def _framed(self) -> bool:
        return "content-length" in self._headers or "transfer-encoding" in self._headers

    def _finish(self) -> None:
        reply, self._reply = self._reply, None
        answer = WorkerReply(self._parser.get_status_code(), self._headers, b"".join(self._body))
        self._headers, self._body = {}, []
        if reply is not None and not reply.done():
            reply.set_result(answer)

    def _fail(self, error: Exception) -> None:
        reply, self._reply = self._reply, None
        self._headers, self._body = {}, []
        if reply is not None and not reply.done():
            reply.set_exception(error)


class WorkerConnections:
    """Connections to workers kept open between calls, at most ``limit`` calls at once (more
    wait their turn); one left idle longer than ``idle_seconds`` is not used again."""

    def __init__(self, limit: int, idle_seconds: float = 30.0) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._idle_seconds = idle_seconds
        self._idle: dict[str, list[_Connection]] = {}
        self._origins: dict[str, _Origin] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(
        self, url: str, path: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> WorkerReply:
        """POST ``body`` to ``url`` + ``path`` and read the answer, within ``timeout`` seconds
        in all (waiting for a turn included). Raises WorkerUnreached, WorkerConnectionError or
        TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        origin = self._origin(url)
        head = _request_head(origin, path, headers, len(body))
        # One timer on the answer rather than asyncio.timeout around everything: the call
        # is the hot path; waiting for a turn and connecting, the rare ones, get their own.
        if self._slots.locked():
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        else:
            await self._slots.acquire()  # free: returns at once
        try:
            connection = self._take_idle(url)
            if connection is not None:
                try:
                    return await self._call(url, connection, head, body, deadline)
                except WorkerUnreached:
                    pass  # it went stale while idle: a fresh connection says if the worker is there
            async with asyncio.timeout_at(deadline):
                connection = await self._connect(origin)
            return await self._call(url, connection, head, body, deadline)
        finally:
            self._slots.release()

    async def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def _call(
        self, url: str, connection: _Connection, head: bytes, body: bytes, deadline: float
    ) -> WorkerReply:
        answer = connection.send(head, body)
        timer = asyncio.get_running_loop().call_at(deadline, _expire, answer)
        try:
            reply = await answer
        except BaseException:
            connection.close()  # cancelled or timed out mid-call: its state is unknown
            raise
        finally:
            timer.cancel()
        if not connection.closed:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(url, []).append(connection)
        return reply

    def _take_idle(self, url: str) -> _Connection | None:
        connections = self._idle.get(url)
        oldest_usable = time.monotonic() - self._idle_seconds
        while connections:
            connection = connections.pop()  # the most recently used: likeliest still open
            if not connection.closed and connection.idle_since >= oldest_usable:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: _Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if origin.tls else None
        try:
            _, connection = await loop.create_connection(
                _Connection, origin.host, origin.port, ssl=tls
            )
        except OSError as exc:
            raise WorkerUnreached(f"cannot connect to the worker: {exc}") from exc
        return connection

    def _origin(self, url: str) -> _Origin:
        origin = self._origins.get(url)
        if origin is None:
            try:
                origin = self._origins[url] = _parse_origin(url)
            except ValueError as exc:  # a container's URL as a user gave it: not ours to 500 on
                raise WorkerConnectionError(str(exc)) from exc
        return origin

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls


def _expire(answer: asyncio.Future[WorkerReply]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError())


def _parse_origin(url: str) -> _Origin:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a worker's URL must be http:// or https://, not {url!r}")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    netloc = parts.netloc.rpartition("@")[2]  # no credentials in the Host header
    return _Origin(parts.hostname, port, tls, parts.path.rstrip("/").encode(), netloc.encode())


def _request_head(origin: _Origin, path: str, headers: Mapping[str, str], length: int) -> bytes:
    lines = [
        b"POST " + origin.prefix + path.encode() + b" HTTP/1.1",
        b"host: " + origin.host_header,
        b"content-length: " + str(length).encode(),
    ]
    lines.extend(_header_line(name, value) for name, value in headers.items())
    lines.append(b"\r\n")
    return b"\r\n".join(lines)


def _header_line(name: str, value: str) -> bytes:
    # A value reaches here from a client's header; a line break in it must not start another.
    clean = value.replace("\r", " ").replace("\n", " ")
    try:
        encoded = clean.encode("latin-1")  # the bytes the client sent (Starlette decodes so)
    except UnicodeEncodeError:
        encoded = clean.encode()
    return name.encode("latin-1") + b": " + encoded
