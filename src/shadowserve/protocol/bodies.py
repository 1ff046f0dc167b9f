"""Reading request bodies with a ceiling, so no request can make the server hold more than
it will accept (a chunked upload declares no length up front)."""

from __future__ import annotations

from starlette.requests import Request

# Past the limit the rest is still read and discarded up to this much, so that an ordinary
# client, which sends its whole body before reading the answer, gets the error instead of a
# broken connection. Beyond it the connection is dropped.
DRAIN_LIMIT = 32 * 1024 * 1024


class BodyTooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes exceed {limit}")
        self.size = size  # bytes seen (or declared) so far: at least this many
        self.limit = limit


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await _drain(request, int(declared))
        raise BodyTooLarge(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            size += await _drain(request, 0)
            raise BodyTooLarge(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _drain(request: Request, declared: int) -> int:
    """Read and drop what is left of the body, if that is not too much; its size."""
    if declared > DRAIN_LIMIT:
        return 0
    drained = 0
    async for chunk in request.stream():
        drained += len(chunk)
        if drained > DRAIN_LIMIT:
            break
    return drained
