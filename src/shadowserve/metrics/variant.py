"""Live Prometheus metrics in SageMaker's names and units, per endpoint and variant.

``shadowserve_<SageMakerName>`` with labels endpoint, variant, role (production | shadow) and
experiment (empty outside experiments). Latencies are histograms in microseconds.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from shadowserve.events.invocations import ErrorKind, InvocationEvent
from shadowserve.metrics.series import Series

LABELS = ["endpoint", "variant", "role", "experiment"]
# Microseconds: 100 µs … 60 s.
LATENCY_BUCKETS = (
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
)  # fmt: skip


class VariantMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, text: str) -> Counter:
            return Counter(f"shadowserve_{name}", text, LABELS, registry=registry)

        def histogram(name: str, text: str) -> Histogram:
            return Histogram(
                f"shadowserve_{name}", text, LABELS, buckets=LATENCY_BUCKETS, registry=registry
            )

        self.invocations = counter("Invocations", "InvokeEndpoint requests a variant served.")
        self.per_instance = counter(
            "InvocationsPerInstance", "Invocations divided by the variant's instance count."
        )
        self.errors_4xx = counter("Invocation4XXErrors", "Model answers with a 4xx status.")
        self.errors_5xx = counter("Invocation5XXErrors", "Model answers with a 5xx status.")
        self.model_errors = counter(
            "InvocationModelErrors",
            "Model calls without a 2xx answer, including timeouts and lost connections.",
        )
        self.model_latency = histogram(
            "ModelLatency_microseconds", "Time the model took to answer, as seen by shadowserve."
        )
        self.overhead_latency = histogram(
            "OverheadLatency_microseconds", "Time spent in shadowserve beyond the model's."
        )
        self._series = Series()

    def observe(self, event: InvocationEvent) -> None:
        if event.error_kind == ErrorKind.DROPPED:
            return  # counted by the shadow counters; the variant never saw the request
        labels = (
            event.endpoint_name,
            event.variant_name,
            event.role.value,
            event.experiment_name or "",
        )
        self._series.of(self.invocations, *labels).inc()
        self._series.of(self.per_instance, *labels).inc(1 / max(1, event.instance_count))
        if 400 <= event.status < 500:
            self._series.of(self.errors_4xx, *labels).inc()
        if 500 <= event.status < 600:
            self._series.of(self.errors_5xx, *labels).inc()
        if not event.succeeded:
            self._series.of(self.model_errors, *labels).inc()
        if event.status:
            self._series.of(self.model_latency, *labels).observe(event.model_latency_us)
        self._series.of(self.overhead_latency, *labels).observe(event.overhead_latency_us)
