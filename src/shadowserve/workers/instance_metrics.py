"""/metrics for the instances this server runs: one series per instance, labelled with the
node it runs on (the Ray runtime's node address; "local" for workers on this machine)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shadowserve.workers.instance import placement
from shadowserve.workers.runtime import WorkerRuntime


class InstanceCollector(Collector):
    """Read at scrape time from the runtime's pools (only the leader has any)."""

    def __init__(self, runtime: WorkerRuntime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "shadowserve_instance_healthy",
            "1 while the instance answers /ping, 0 otherwise; node: where it runs",
            labels=["endpoint", "variant", "instance", "node"],
        )
        for (_, endpoint), pool in self._runtime.instances():
            for placed in map(placement, pool.workers):
                labels = [endpoint, pool.variant_name, placed.instance, placed.node]
                gauge.add_metric(labels, 1.0 if placed.healthy else 0.0)
        yield gauge
