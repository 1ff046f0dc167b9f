"""Carries unfinished Cloud Control requests forward in the background, and forgets
requests older than 7 days.

Gateways sharing one database each claim requests from the work queue with a lease, so a
request is worked by one gateway at a time; a gateway that dies holding a claim loses it when
the lease runs out, and another carries the request on (the resource's name was chosen when
the request was recorded, so the re-run finds what the first run made)."""

from __future__ import annotations

import logging

from shadowserve.cloudcontrol import service
from shadowserve.cloudcontrol.requests import FINISHED, KIND, QUEUE, ResourceRequest
from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import StaleWrite
from shadowserve.periodic import PeriodicWork
from shadowserve.services.context import ControlPlane
from shadowserve.store.base import Document

log = logging.getLogger(__name__)

CLAIMS_PER_PASS = 50
PURGE_EVERY_SECONDS = 60.0
# While no request is in progress the queue is looked at this often (a request queued on
# this gateway wakes the worker at once; one queued on another gateway of the same
# database, which that gateway's worker also takes, waits at most this long). Polling at
# the working interval cost an idle gateway ~8 ms of CPU a second (#16).
IDLE_POLL_SECONDS = 1.0


class RequestWorker(PeriodicWork):
    def __init__(self, plane: ControlPlane, interval: float = 0.2, owner: str = "",
                 lease_seconds: float = 30.0) -> None:  # fmt: skip
        super().__init__("cloudcontrol", self._next_wait, plane.cloudcontrol_queued)
        self._plane = plane
        self._owner = owner
        self._lease = lease_seconds
        self._purged = float("-inf")
        self._interval = interval
        self._working = False  # whether the last pass claimed a request

    def _next_wait(self) -> float:
        return self._interval if self._working else max(self._interval, IDLE_POLL_SECONDS)

    def run_once(self) -> None:
        now = self._plane.clock.now().timestamp()
        with self._plane.store.transaction() as tx:
            claimed = tx.claim(QUEUE, self._owner, now, self._lease, CLAIMS_PER_PASS)
        self._working = bool(claimed)
        for scope, token in claimed:
            self._advance(scope, token)
        if now - self._purged >= PURGE_EVERY_SECONDS:
            self._purged = now
            self._purge()

    def _advance(self, scope: Scope, token: str) -> None:
        with self._plane.store.transaction() as tx:
            document = tx.get(KIND, scope, token)
            if document is None or _finished(document):
                tx.dequeue(QUEUE, scope, token)
                return
        try:
            service.advance(self._plane, scope, document)
        except StaleWrite:
            return
        except Exception:
            log.exception("Cloud Control request %s failed", token)

    def _purge(self) -> None:
        with self._plane.store.transaction() as tx:
            documents = tx.find_all(KIND)
        by_scope: dict[Scope, list[Document]] = {}
        for document in documents:
            by_scope.setdefault(document.scope, []).append(document)
        for scope, scoped in by_scope.items():
            service.purge_expired(self._plane, scope, scoped)


def _finished(document: Document) -> bool:
    return ResourceRequest.model_validate(document.body).operation_status in FINISHED
