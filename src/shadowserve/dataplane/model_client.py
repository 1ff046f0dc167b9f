"""One call to a worker's ``POST /invocations``, timed, with every failure classified."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import httpx

from shadowserve.dataplane.events import ErrorKind
from shadowserve.workers.pool import VariantPool


@dataclass(frozen=True)
class ModelCall:
    body: bytes
    content_type: str
    accept: str | None
    custom_attributes: str | None


@dataclass(frozen=True)
class ModelAnswer:
    status: int  # 0 when the model never answered
    body: bytes
    content_type: str | None
    custom_attributes: str | None
    latency_us: int
    error_kind: ErrorKind | None


def model_http_client(max_connections: int, max_keepalive: int) -> httpx.AsyncClient:
    """An HTTP client for workers. TCP_NODELAY matters: without it the request's header and
    body writes meet delayed ACKs on keep-alive connections and every call waits ~40 ms."""
    transport = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_keepalive
        ),
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )
    return httpx.AsyncClient(transport=transport)


async def call_model(
    client: httpx.AsyncClient, pool: VariantPool, call: ModelCall, timeout: float
) -> ModelAnswer:
    headers = {"content-type": call.content_type}
    if call.accept:
        headers["accept"] = call.accept
    if call.custom_attributes:
        headers["x-amzn-sagemaker-custom-attributes"] = call.custom_attributes
    started = time.perf_counter_ns()
    # A worker that refuses or drops the connection (it died, or its kept-alive connection
    # went stale) is taken out of routing and the call goes to another healthy worker of the
    # variant. Inference is treated as idempotent; a timeout is never retried.
    for _ in range(len(pool.workers) or 1):
        url = pool.pick()
        if url is None:
            return ModelAnswer(0, b"", None, None, 0, ErrorKind.NO_INSTANCE)
        pool.in_flight += 1
        try:
            response = await client.post(
                f"{url}/invocations", content=call.body, headers=headers, timeout=timeout
            )
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            pool.mark_down(url)
            continue
        except httpx.TimeoutException:
            return _failed(started, ErrorKind.TIMEOUT)
        except httpx.HTTPError:
            return _failed(started, ErrorKind.CONNECTION)
        finally:
            pool.in_flight -= 1
        return _answer(response, started)
    return _failed(started, ErrorKind.CONNECTION)


def _answer(response: httpx.Response, started: int) -> ModelAnswer:
    latency = (time.perf_counter_ns() - started) // 1000
    kind = None if 200 <= response.status_code < 300 else ErrorKind.MODEL_ERROR
    return ModelAnswer(
        response.status_code,
        response.content,
        response.headers.get("content-type"),
        response.headers.get("x-amzn-sagemaker-custom-attributes"),
        latency,
        kind,
    )


def _failed(started: int, kind: ErrorKind) -> ModelAnswer:
    return ModelAnswer(0, b"", None, None, (time.perf_counter_ns() - started) // 1000, kind)
