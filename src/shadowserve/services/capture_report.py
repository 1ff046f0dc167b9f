"""``shadowserve report NAME --from-capture``: the report with its output comparison rebuilt
from the experiment's captured records, so settings changed since (tolerance, label
threshold, ignored fields, mode) apply to traffic already seen. Latency and errors still come
from the stored aggregates (captured records carry neither); the noise learned live is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import InvalidInput
from shadowserve.objectstore import ObjectStore
from shadowserve.services.capture_comparison import (
    CaptureComparison,
    CaptureScope,
    Progress,
    compare_capture,
)
from shadowserve.services.context import ControlPlane
from shadowserve.services.reports import ReportRequest, StoredReport, load_report


@dataclass(frozen=True)
class CaptureReport:
    stored: StoredReport
    scope: CaptureScope
    request: ReportRequest

    def events(self, store: ObjectStore) -> Iterator[dict[str, Any]]:
        """{"progress": …} after every file, then {"report": …}."""
        for item in compare_capture(store, self.scope, self.stored.settings):
            if isinstance(item, Progress):
                yield {"progress": asdict(item)}
            else:
                yield {"report": self._report(item)}

    def _report(self, found: CaptureComparison) -> dict[str, Any]:
        stored = self.stored
        found.outputs.adopt_probes(stored.pairs.outputs)
        stored.pairs.outputs = found.outputs
        stored.warnings += found.unreadable.warnings()
        report = stored.build(self.request)
        report["source"] = {
            "kind": "capture", "files": found.files, "records": found.records,
            "pairs": found.pairs, "unjoined": found.unjoined,
            "unreadable": found.unreadable.count,
            "text": (f"Outputs compared from capture: {found.records} records in {found.files} "
                     f"files, {found.pairs} pairs joined by inference id ({found.unjoined} legs "
                     "without their other half); latency and errors from the stored aggregates."),
        }  # fmt: skip
        return report


def capture_report(
    plane: ControlPlane, scope: Scope, name: str, request: ReportRequest
) -> CaptureReport:
    """Everything checked before any file is read (so errors are plain answers)."""
    stored = load_report(plane, scope, name, request)
    experiment = stored.experiment
    storage = experiment.data_storage_config
    if storage is None:
        raise InvalidInput(
            f"Inference experiment {name} has no DataStorageConfig: nothing was captured to "
            "recompute from."
        )
    start = experiment.schedule.start_time or experiment.creation_time
    end = experiment.completion_time or datetime.now(UTC)
    capture = CaptureScope(
        destination=storage.destination,
        endpoint=experiment.endpoint_name,
        production=experiment.production_variant().variant_name,
        shadow=experiment.shadow_variant().variant_name,
        start=start,
        end=end,
    )
    return CaptureReport(stored, capture, request)
