"""The worker client against real sockets: a server written here answers each request as a
test needs (kept alive, closed, chunked, broken, silent), and the client sees it over TCP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvloop

from shadowserve.dataplane.worker_connections import (
    WorkerConnectionError,
    WorkerConnections,
    WorkerUnreached,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Seen"], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class Seen:
    """What the server saw: connections opened, request heads and bodies."""

    def __init__(self) -> None:
        self.connections = 0
        self.ended = 0  # connections the client closed
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []


async def read_request(reader: asyncio.StreamReader, seen: Seen) -> bool:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return False
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    seen.heads.append(head)
    seen.bodies.append(await reader.readexactly(length))
    return True


def run(handler: Handler, test: Callable[[str, Seen], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        seen = Seen()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.connections += 1
            try:
                await handler(reader, writer, seen)
            finally:
                seen.ended += 1
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await test(f"http://127.0.0.1:{port}", seen)

    return uvloop.run(main())


async def keep_alive(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
) -> None:
    while await read_request(reader, seen):
        writer.write(OK)
        await writer.drain()


def test_calls_reuse_one_connection_and_send_what_they_are_given() -> None:
    async def test(url: str, seen: Seen) -> None:
        client = WorkerConnections(limit=4)
        headers = {"content-type": "text/csv", "x-amzn-sagemaker-custom-attributes": "a=1"}
        replies = [await client.post(url, "/invocations", headers, b"1,2,3", 5) for _ in range(3)]
        await client.close()
        assert [r.status for r in replies] == [200, 200, 200]
        assert replies[0].body == b"{}"
        assert replies[0].headers["content-type"] == "application/json"
        assert seen.connections == 1
        assert seen.bodies == [b"1,2,3"] * 3
        lines = seen.heads[0].split(b"\r\n")
        assert lines[0] == b"POST /invocations HTTP/1.1"
        assert f"host: {url.removeprefix('http://')}".encode() in lines
        assert b"x-amzn-sagemaker-custom-attributes: a=1" in lines

    run(keep_alive, test)


def test_a_path_in_the_workers_url_comes_before_the_call_path() -> None:
    async def test(url: str, seen: Seen) -> None:
        client = WorkerConnections(limit=1)
        await client.post(f"{url}/models/a/", "/invocations", {}, b"", 5)
        await client.close()
        assert seen.heads[0].startswith(b"POST /models/a/invocations HTTP/1.1\r\n")

    run(keep_alive, test)


def test_a_line_break_in_a_header_value_cannot_start_another_header() -> None:
    async def test(url: str, seen: Seen) -> None:
        client = WorkerConnections(limit=1)
        await client.post(url, "/invocations", {"accept": "a\r\nx-evil: 1"}, b"", 5)
        await client.close()
        assert b"\r\nx-evil" not in seen.heads[0]
        assert b"accept: a  x-evil: 1" in seen.heads[0]

    run(keep_alive, test)


def test_connection_close_and_an_answer_without_a_length_are_read_whole() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        if await read_request(reader, seen):
            # No length: the body ends with the connection (HTTP/1.1, section 6.3).
            writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it")
            await writer.drain()

    async def test(url: str, seen: Seen) -> None:
        client = WorkerConnections(limit=1)
        first = await client.post(url, "/invocations", {}, b"", 5)
        second = await client.post(url, "/invocations", {}, b"", 5)
        await client.close()
        assert first.body == second.body == b"all of it"
        assert seen.connections == 2

    run(handler, test)


def test_a_chunked_answer_and_an_interim_100_are_read() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        while await read_request(reader, seen):
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            writer.write(b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n")
            writer.write(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            await writer.drain()

    async def test(url: str, seen: Seen) -> None:
        client = WorkerConnections(limit=1)
        replies = [await client.post(url, "/invocations", {}, b"", 5) for _ in range(2)]
        await client.close()
        assert [(r.status, r.body) for r in replies] == [(201, b"abcde")] * 2
        assert seen.connections == 1

    run(handler, test)


def test_a_connection_the_worker_closed_while_idle_is_replaced_without_an_error() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        if await read_request(reader, seen):  # one answer, kept alive, then closed after it
            writer.write(OK)
            await writer.drain()

    async def test(url: str, seen: Seen) -> None:
        client = WorkerConnections(limit=1)
        await client.post(url, "/invocations", {}, b"", 5)
        second = await client.post(url, "/invocations", {}, b"", 5)
        await client.close()
        assert second.status == 200
        assert seen.connections == 2

    run(handler, test)


def test_a_refused_connection_is_unreached() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused

        async def main() -> None:
            client = WorkerConnections(limit=1)
            with pytest.raises(WorkerUnreached, match="cannot connect"):
                await client.post(f"http://127.0.0.1:{port}", "/invocations", {}, b"", 5)

        uvloop.run(main())


def test_a_worker_that_closes_without_answering_is_unreached() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        await read_request(reader, seen)  # and close: it died with the request

    async def test(url: str, seen: Seen) -> None:
        client = WorkerConnections(limit=1)
        with pytest.raises(WorkerUnreached, match="closed before an answer"):
            await client.post(url, "/invocations", {}, b"", 5)

    run(handler, test)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf", "broke mid-answer"),
        (b"SMTP ready\r\n\r\n", "not HTTP"),
    ],
)
def test_a_broken_or_foreign_answer_is_a_connection_error(answer: bytes, why: str) -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        if await read_request(reader, seen):
            writer.write(answer)
            await writer.drain()

    async def test(url: str, seen: Seen) -> None:
        client = WorkerConnections(limit=1)
        with pytest.raises(WorkerConnectionError, match=why):
            await client.post(url, "/invocations", {}, b"", 5)

    run(handler, test)


def test_a_silent_worker_times_out_and_its_connection_is_not_reused() -> None:
    calls = 0

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        nonlocal calls
        while await read_request(reader, seen):
            calls += 1
            if calls > 1:  # silent to the first call only
                writer.write(OK)
                await writer.drain()

    async def test(url: str, seen: Seen) -> None:
        client = WorkerConnections(limit=1)
        with pytest.raises(TimeoutError):
            await client.post(url, "/invocations", {}, b"", 0.2)
        async with asyncio.timeout(10):  # the client hung up on the silent connection
            while seen.ended < 1:
                await asyncio.sleep(0.01)
        reply = await client.post(url, "/invocations", {}, b"", 5)
        await client.close()
        assert reply.status == 200
        assert seen.connections == 2  # the first one's answer could still come: never reused

    run(handler, test)


def test_calls_past_the_limit_wait_their_turn() -> None:
    in_flight = most = 0

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        nonlocal in_flight, most
        while await read_request(reader, seen):
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            writer.write(OK)
            await writer.drain()

    async def test(url: str, seen: Seen) -> None:
        client = WorkerConnections(limit=2)
        calls = [client.post(url, "/invocations", {}, b"", 10) for _ in range(8)]
        replies = await asyncio.gather(*calls)
        await client.close()
        assert all(r.status == 200 for r in replies)
        assert most == 2
        assert seen.connections == 2

    run(handler, test)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:1", "http://", "http://127.0.0.1:notaport"])
def test_a_url_that_is_not_a_workers_is_a_connection_error(url: str) -> None:
    async def main() -> None:
        client = WorkerConnections(limit=1)
        with pytest.raises(WorkerConnectionError):
            await client.post(url, "/invocations", {}, b"", 5)

    uvloop.run(main())
