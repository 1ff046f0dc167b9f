"""uvicorn's httptools protocol with a ceiling on the size of a request's head, and a
response's writes sent together.

llhttp (under httptools) buffers a header of any length before uvicorn sees it, so a client
could make the server hold megabytes per connection. The head is counted as it arrives and
the connection refused with 431 once it is larger than any real client sends.

uvicorn writes a response's head and its body with a system call each; a write costs about
as much as the rest of uvicorn's share of a request (py-spy, #16). Writes made in one turn
of the event loop go out in one call at the end of it (``CorkedTransport``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024  # request line and headers; AWS SDKs send about 1 KB


class CorkedTransport:
    """A transport whose writes wait for the end of the loop's turn, then go out in one
    ``writelines`` (in order); closing sends what waits first. Anything else is the
    transport's own."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.writelines(pending)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._tail = b""  # the last bytes seen, in case "\r\n\r\n" spans two reads

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # flow control and addresses: the transport itself
        self.transport = cast(asyncio.Transport, CorkedTransport(transport))

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._tail = b""
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # a kept-alive connection's next request starts with a head

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")
            # Only the head counts: a read may carry the start of the body too.
            self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse()
                return
            self._tail = seen[-3:]
        super().data_received(data)

    def _refuse(self) -> None:
        code = "RequestHeaderFieldsTooLarge"
        body = json.dumps({"__type": code, "message": f"The request line and headers exceed "
                           f"{MAX_HEAD_BYTES} bytes."}).encode()  # fmt: skip
        head = (
            "HTTP/1.1 431 Request Header Fields Too Large\r\n"
            "content-type: application/x-amz-json-1.1\r\n"
            f"x-amzn-ErrorType: {code}\r\nconnection: close\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode()
        self.logger.warning("refused a request whose head exceeds %d bytes", MAX_HEAD_BYTES)
        self.transport.write(head + body)
        self.transport.close()
        self._in_head = False  # nothing more is read from this connection
