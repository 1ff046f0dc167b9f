"""Each experiment's comparison settings: the server's defaults with the experiment's
``shadowserve:*`` tags applied. The aggregator asks on every mirrored pair, so answers are
cached briefly; a tag change applies to pairs compared a few seconds later."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from shadowserve.comparison.settings import CompareSettings, settings_from_tags
from shadowserve.domain.arns import ResourceKind, Scope, resource_arn
from shadowserve.services.context import ControlPlane
from shadowserve.services.repository import Repository

CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class ResolvedSettings:
    settings: CompareSettings
    warnings: tuple[str, ...]


def experiment_settings(
    repo: Repository, experiment: str, base: CompareSettings
) -> ResolvedSettings:
    arn = resource_arn(repo.scope, ResourceKind.INFERENCE_EXPERIMENT, experiment)
    settings, warnings = settings_from_tags(dict(repo.tx.tags(arn)), base)
    return ResolvedSettings(settings, tuple(warnings))


class ExperimentSettings:
    """Callable from the aggregator's thread: (scope, experiment) → settings."""

    def __init__(self, plane: ControlPlane, base: CompareSettings) -> None:
        self._plane = plane
        self.base = base
        self._cache: dict[tuple[Scope, str], tuple[float, CompareSettings]] = {}
        self._lock = threading.Lock()

    def __call__(self, scope: Scope, experiment: str | None) -> CompareSettings:
        if experiment is None:
            return self.base
        key = (scope, experiment)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            with self._plane.repository(scope) as repo:
                settings = experiment_settings(repo, experiment, self.base).settings
        except Exception:  # the store is down: compare with what was known
            return cached[1] if cached else self.base
        with self._lock:
            self._cache[key] = (now, settings)
        return settings
