"""CorkedTransport over a real TCP connection: writes in one turn of the loop reach the
peer together and in order, and closing sends what waits first."""

from __future__ import annotations

import asyncio

import uvloop

from shadowserve.http.protocol import CorkedTransport


def received_by_peer(writes: list[bytes], close: bool) -> tuple[bytes, int]:
    """What the peer read and in how many reads, for ``writes`` made in one turn."""

    async def main() -> tuple[bytes, int]:
        reads: list[bytes] = []
        done = asyncio.Event()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while chunk := await reader.read(65536):
                reads.append(chunk)
                if sum(map(len, reads)) == sum(map(len, writes)):
                    break
            done.set()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            transport, _ = await asyncio.get_running_loop().create_connection(
                asyncio.Protocol, "127.0.0.1", port
            )
            cork = CorkedTransport(transport)
            for data in writes:
                cork.write(data)
            assert not reads
            if close:
                cork.close()
            async with asyncio.timeout(10):
                await done.wait()
            transport.close()
        return b"".join(reads), len(reads)

    return uvloop.run(main())


def test_writes_in_one_turn_reach_the_peer_in_order() -> None:
    data, reads = received_by_peer([b"HTTP/1.1 200 OK\r\n\r\n", b"body", b"more"], close=False)
    assert data == b"HTTP/1.1 200 OK\r\n\r\nbodymore"
    assert reads == 1


def test_closing_sends_what_waits_first() -> None:
    data, _ = received_by_peer([b"head", b"tail"], close=True)
    assert data == b"headtail"
