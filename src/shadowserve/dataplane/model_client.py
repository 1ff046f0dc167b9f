"""One call to a worker's ``POST /invocations``, timed, with every failure classified.

The call goes over worker_connections (a fifth of aiohttp's CPU per call, which was a
fraction of httpx's; docs/benchmarks.md); response streams still use aiohttp's client
(``model_http_client``, model_stream.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiohttp

from shadowserve.dataplane.upstream import Upstream
from shadowserve.dataplane.worker_connections import (
    WorkerConnectionError,
    WorkerConnections,
    WorkerReply,
    WorkerUnreached,
)
from shadowserve.events.invocations import ErrorKind

# aiohttp's ways of saying the worker refused or dropped the connection before answering (a
# response stream's call): it died, or a kept-alive connection went stale. Another worker may
# take the call. (ClientOSError covers a reset on a kept-alive connection; ClientConnectorError,
# a refusal.)
SHADOW_HEADER = "x-shadowserve-shadow"
EXPERIMENT_HEADER = "x-shadowserve-experiment"
UNREACHED = (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError, ConnectionResetError)


@dataclass(frozen=True)
class ModelCall:
    body: bytes
    content_type: str
    accept: str | None
    custom_attributes: str | None
    inference_id: str | None = None  # sent to the container, on both legs
    experiment: str | None = None  # set on a shadow's copy: the container is told so


@dataclass(frozen=True)
class ModelAnswer:
    status: int  # 0 when the model never answered
    body: bytes
    content_type: str | None
    custom_attributes: str | None
    latency_us: int
    error_kind: ErrorKind | None


def model_http_client(max_connections: int) -> aiohttp.ClientSession:
    """An HTTP client for workers' response streams (aiohttp sets TCP_NODELAY on its
    connections)."""
    connector = aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=30)
    # The body is passed on as it is: no decompression, no cookies.
    return aiohttp.ClientSession(
        connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
    )


def model_headers(call: ModelCall) -> dict[str, str]:
    headers = {"content-type": call.content_type}
    if call.accept:
        headers["accept"] = call.accept
    if call.custom_attributes:
        headers["x-amzn-sagemaker-custom-attributes"] = call.custom_attributes
    if call.inference_id:
        headers["x-amzn-sagemaker-inference-id"] = call.inference_id
    if call.experiment is not None:
        # Not SageMaker's: lets a candidate skip side effects (writes, emails, billing).
        headers[SHADOW_HEADER] = "true"
        if call.experiment:
            headers[EXPERIMENT_HEADER] = call.experiment
    return headers


async def call_model(
    connections: WorkerConnections, pool: Upstream, call: ModelCall, timeout: float
) -> ModelAnswer:
    headers = model_headers(call)
    started = time.perf_counter_ns()
    # A worker that refuses or drops the connection is taken out of routing and the call
    # goes to another healthy worker of the variant. Inference is treated as idempotent;
    # a timeout is never retried.
    tried: frozenset[str] = frozenset()
    for _ in range(len(pool.workers) or 1):
        url = pool.lease(exclude=tried)
        if url is None:
            if tried:
                break  # every healthy worker was tried
            return ModelAnswer(0, b"", None, None, 0, ErrorKind.NO_INSTANCE)
        tried |= {url}
        try:
            reply = await connections.post(url, "/invocations", headers, call.body, timeout)
            return _answer(reply, started)
        except WorkerUnreached:
            pool.mark_down(url)
            continue
        except TimeoutError:
            return _failed(started, ErrorKind.TIMEOUT)
        except WorkerConnectionError:
            return _failed(started, ErrorKind.CONNECTION)
        finally:
            pool.release()
    return _failed(started, ErrorKind.CONNECTION)


def _answer(reply: WorkerReply, started: int) -> ModelAnswer:
    latency = (time.perf_counter_ns() - started) // 1000
    kind = None if 200 <= reply.status < 300 else ErrorKind.MODEL_ERROR
    return ModelAnswer(
        reply.status,
        reply.body,
        reply.headers.get("content-type"),
        reply.headers.get("x-amzn-sagemaker-custom-attributes"),
        latency,
        kind,
    )


def _failed(started: int, kind: ErrorKind) -> ModelAnswer:
    return ModelAnswer(0, b"", None, None, (time.perf_counter_ns() - started) // 1000, kind)
