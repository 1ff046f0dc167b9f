"""A metric's series looked up once per set of label values.

prometheus_client's ``labels()`` takes a lock and checks its arguments on every call; the
request path counts every leg of every request, so the series it finds are kept here (#16).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Histogram


class Series:
    def __init__(self) -> None:
        self._found: dict[tuple[int, tuple[str, ...]], Any] = {}

    def of(self, metric: Counter | Histogram, *labels: str) -> Any:
        """``metric.labels(*labels)``, from the second call on without asking the metric."""
        key = (id(metric), labels)
        series = self._found.get(key)
        if series is None:
            series = self._found[key] = metric.labels(*labels)
        return series
