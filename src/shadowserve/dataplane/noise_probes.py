"""Which shadow copies are sent to the shadow a second time, to learn its noise: fields that
differ between two answers of the same model to the same request (Diffy's idea, done on the
shadow only, so production never sees an extra call)."""

from __future__ import annotations

import random

# Every experiment's first copies are probed, so noise is known before the verdict needs it.
FIRST_PROBES = 20


class NoiseProbes:
    """Called from the event loop only (the shadow dispatcher's tasks)."""

    def __init__(self, percentage: float, first: int = FIRST_PROBES) -> None:
        self._percentage = percentage
        self._first = first if percentage > 0 else 0
        self._seen: dict[str, int] = {}  # copies probed so far, per experiment

    def chosen(self, experiment: str | None) -> bool:
        if self._percentage <= 0 or experiment is None:
            return False
        seen = self._seen.get(experiment, 0)
        if seen < self._first:
            self._seen[experiment] = seen + 1
            return True
        return random.random() * 100 < self._percentage
