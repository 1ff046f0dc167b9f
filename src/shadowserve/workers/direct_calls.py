"""Calls to one variant's workers that bypass InvokeEndpoint — for replays, which must not
be captured, counted as traffic or mirrored. Blocking (called from worker threads)."""

from __future__ import annotations

import time

import httpx

from shadowserve.domain.arns import Scope
from shadowserve.services.runtime import DirectAnswer
from shadowserve.workers.runtime import WorkerRuntime


class DirectCalls:
    def __init__(self, runtime: WorkerRuntime, timeout: float) -> None:
        self._runtime = runtime
        self._client = httpx.Client(timeout=timeout)

    def call_variant(
        self, scope: Scope, endpoint_name: str, variant_name: str, body: bytes,
        content_type: str, accept: str | None,
    ) -> DirectAnswer:  # fmt: skip
        pool = self._runtime.pools(scope, endpoint_name).get(variant_name)
        if pool is None:
            return DirectAnswer(0, b"", None, 0, f"{endpoint_name} has no variant {variant_name}.")
        url = pool.pick()
        if url is None:
            return DirectAnswer(0, b"", None, 0, f"Variant {variant_name} has no healthy instance.")
        headers = {"Content-Type": content_type} | ({"Accept": accept} if accept else {})
        started = time.perf_counter_ns()
        try:
            response = self._client.post(f"{url}/invocations", content=body, headers=headers)
        except httpx.HTTPError as exc:
            elapsed = (time.perf_counter_ns() - started) // 1000
            return DirectAnswer(0, b"", None, elapsed, f"{type(exc).__name__}: {exc}")
        elapsed = (time.perf_counter_ns() - started) // 1000
        return DirectAnswer(response.status_code, response.content,
                            response.headers.get("content-type"), elapsed)  # fmt: skip

    def close(self) -> None:
        self._client.close()
