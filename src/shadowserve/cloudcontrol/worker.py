"""Carries unfinished Cloud Control requests forward in the background, and forgets
requests older than 7 days."""

from __future__ import annotations

import logging

from shadowserve.cloudcontrol import service
from shadowserve.cloudcontrol.requests import FINISHED, KIND, ResourceRequest
from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import StaleWrite
from shadowserve.periodic import PeriodicWork
from shadowserve.services.context import ControlPlane
from shadowserve.store.base import Document

log = logging.getLogger(__name__)


class RequestWorker(PeriodicWork):
    def __init__(self, plane: ControlPlane, interval: float = 0.2) -> None:
        super().__init__("cloudcontrol", interval)
        self._plane = plane

    def run_once(self) -> None:
        with self._plane.store.transaction() as tx:
            documents = tx.find_all(KIND)
        for document in documents:
            request = ResourceRequest.model_validate(document.body)
            if request.operation_status in FINISHED:
                continue
            try:
                service.advance(self._plane, document.scope, document)
            except StaleWrite:
                continue
            except Exception:
                log.exception("Cloud Control request %s failed", request.request_token)
        by_scope: dict[Scope, list[Document]] = {}
        for document in documents:
            by_scope.setdefault(document.scope, []).append(document)
        for scope, scoped in by_scope.items():
            service.purge_expired(self._plane, scope, scoped)
