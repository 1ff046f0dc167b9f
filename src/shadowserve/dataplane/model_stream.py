"""One streamed call to a worker's ``POST /invocations``: the answer's head as soon as it
arrives, then its chunks as the model writes them, then the whole answer for the events.

Used by InvokeEndpointWithResponseStream. A worker that refuses the connection is passed
over for another, as for InvokeEndpoint; once bytes have flowed, a failure ends the stream
(a model's output cannot be replayed elsewhere). The timeout is per chunk, not for the whole
stream: a model generating for minutes is fine while it keeps writing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

import aiohttp

from shadowserve.dataplane.model_client import UNREACHED, ModelAnswer, ModelCall, model_headers
from shadowserve.dataplane.upstream import Upstream
from shadowserve.events.invocations import ErrorKind


@dataclass(frozen=True)
class StreamHead:
    status: int
    content_type: str | None
    custom_attributes: str | None


StreamItem = StreamHead | bytes | ModelAnswer


async def stream_model(
    client: aiohttp.ClientSession, pool: Upstream, call: ModelCall, timeout: float
) -> AsyncGenerator[StreamItem, None]:
    """Yields a StreamHead, then the body's chunks, then the finished ModelAnswer (whole
    body); or only a failed ModelAnswer when no worker answered."""
    started = time.perf_counter_ns()
    limit = aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout)
    tried: frozenset[str] = frozenset()
    for _ in range(len(pool.workers) or 1):
        url = pool.lease(exclude=tried)
        if url is None:
            kind = ErrorKind.CONNECTION if tried else ErrorKind.NO_INSTANCE
            yield _failed(started, kind, 0)
            return
        tried |= {url}
        try:
            try:
                response = await client.post(
                    f"{url}/invocations", data=call.body, headers=model_headers(call),
                    timeout=limit,
                )  # fmt: skip
            except UNREACHED:
                pool.mark_down(url)
                continue
            except TimeoutError:
                yield _failed(started, ErrorKind.TIMEOUT, 0)
                return
            except (aiohttp.ClientError, OSError):
                yield _failed(started, ErrorKind.CONNECTION, 0)
                return
            async with response:
                async for item in _chunks(response, started):
                    yield item
            return
        finally:
            pool.release()
    yield _failed(started, ErrorKind.CONNECTION, 0)


async def _chunks(response: aiohttp.ClientResponse, started: int) -> AsyncIterator[StreamItem]:
    content_type = response.headers.get("content-type")
    attributes = response.headers.get("x-amzn-sagemaker-custom-attributes")
    yield StreamHead(response.status, content_type, attributes)
    body = bytearray()
    kind = None if 200 <= response.status < 300 else ErrorKind.MODEL_ERROR
    try:
        async for chunk in response.content.iter_any():
            body += chunk
            yield chunk
    except TimeoutError:
        kind = ErrorKind.TIMEOUT
    except (aiohttp.ClientError, OSError):
        kind = ErrorKind.CONNECTION
    latency = (time.perf_counter_ns() - started) // 1000
    status = response.status if kind in (None, ErrorKind.MODEL_ERROR) else 0
    yield ModelAnswer(status, bytes(body), content_type, attributes, latency, kind)


def _failed(started: int, kind: ErrorKind, status: int) -> ModelAnswer:
    return ModelAnswer(status, b"", None, None, (time.perf_counter_ns() - started) // 1000, kind)
