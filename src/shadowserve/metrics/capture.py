"""Capture counters: records written and dropped, files, failed uploads, buffered records."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from shadowserve.objectstore import S3Location


class CaptureCounters:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._records = Counter(
            "shadowserve_capture_records",
            "Captured records by outcome: written to the sink, or dropped (buffer bound "
            "reached or destination unusable).",
            ["endpoint", "variant", "outcome"],
            registry=registry,
        )
        self._files = Counter(
            "shadowserve_capture_files", "Capture files written.", registry=registry
        )
        self._failures = Counter(
            "shadowserve_capture_upload_failures",
            "Capture uploads that failed and will be retried.",
            registry=registry,
        )
        self._buffered = Gauge(
            "shadowserve_capture_buffered_records",
            "Records waiting in memory to be written.",
            registry=registry,
        )

    def written(self, location: S3Location, records: int) -> None:
        # Key layout: [prefix/]endpoint/variant/yyyy/mm/dd/hh/file
        parts = location.key.split("/")
        self._records.labels(parts[-7], parts[-6], "written").inc(records)
        self._files.inc()

    def dropped(self, endpoint: str, variant: str, records: int = 1) -> None:
        self._records.labels(endpoint, variant, "dropped").inc(records)

    def upload_failed(self) -> None:
        self._failures.inc()

    def buffered(self, records: int) -> None:
        self._buffered.set(records)
