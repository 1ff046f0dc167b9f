"""Shadow-leg counters: sampled, sent, dropped, timed out, failed."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from shadowserve.dataplane.model_client import ModelAnswer
from shadowserve.events.invocations import ErrorKind
from shadowserve.metrics.series import Series


class ShadowCounters:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests = Counter(
            "shadowserve_shadow_requests",
            "Copies of production requests for the shadow variant, by outcome: sampled "
            "(chosen for copying), dropped (queue full), shed (not sent: the gateway was "
            "saturated), sent, succeeded, model_error, "
            "timeout, connection_error, no_instance, noise_probe (sent a second time to learn the "
            "shadow's noise).",
            ["endpoint", "variant", "outcome"],
            registry=registry,
        )
        self._series = Series()

    def sampled(self, endpoint: str, variant: str) -> None:
        self._series.of(self._requests, endpoint, variant, "sampled").inc()

    def dropped(self, endpoint: str, variant: str) -> None:
        self._series.of(self._requests, endpoint, variant, "dropped").inc()

    def shed(self, endpoint: str, variant: str) -> None:
        self._series.of(self._requests, endpoint, variant, "shed").inc()

    def probed(self, endpoint: str, variant: str) -> None:
        self._series.of(self._requests, endpoint, variant, "noise_probe").inc()

    def finished(self, endpoint: str, variant: str, answer: ModelAnswer) -> None:
        outcome = {
            None: "succeeded",
            ErrorKind.MODEL_ERROR: "model_error",
            ErrorKind.TIMEOUT: "timeout",
            ErrorKind.CONNECTION: "connection_error",
            ErrorKind.NO_INSTANCE: "no_instance",
        }.get(answer.error_kind, "failed")
        if answer.error_kind != ErrorKind.NO_INSTANCE:
            self._series.of(self._requests, endpoint, variant, "sent").inc()
        self._series.of(self._requests, endpoint, variant, outcome).inc()
