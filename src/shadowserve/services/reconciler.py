"""The reconciler: compares desired state (the store) with what runs, and closes the gap.

It is the only thing that moves statuses over time: schedules fire here, rollouts finish
here. It keeps no timers of its own, so after a restart the next pass carries on from the
stored state.

A pass that found everything settled (every endpoint served as stored, no rollout under
way, no experiment due to move) remembers what the store read; while it reads the same and
no schedule comes due, later passes stop there. Telling so is one query that parses
nothing, where a full pass loads and validates every endpoint, config, model and experiment
(about 5 ms of the GIL each second at the default interval, #16).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import DomainError, StaleWrite, StorageFull
from shadowserve.domain.experiment import InferenceExperiment
from shadowserve.domain.redaction import REDACT_TAG, RedactionError, redacted_keys
from shadowserve.domain.resources import Endpoint, EndpointConfig, EndpointStatus, Model
from shadowserve.periodic import PeriodicWork
from shadowserve.services import experiment_steps
from shadowserve.services.context import ControlPlane
from shadowserve.services.repository import KINDS, Repository, all_scopes
from shadowserve.services.runtime import Deployment, DeployResult, DeployState
from shadowserve.store.base import StoredRow

log = logging.getLogger(__name__)

ROLLING_OUT = (EndpointStatus.CREATING, EndpointStatus.UPDATING)


# What a pass reads to tell whether anything changed: the leader's epoch (a new lead starts
# with nothing running), every resource a deployment is made from, and the redaction tags.
Look = tuple[int, list[StoredRow], list[tuple[str, str]]]


@dataclass(frozen=True)
class Settled:
    """What the store read when a pass found nothing left to do, and until when that holds
    (the earliest schedule time of an experiment; None: no schedule pending)."""

    look: Look
    until: datetime | None

    def holds(self, look: Look, now: datetime) -> bool:
        return look == self.look and (self.until is None or now < self.until)


class Reconciler(PeriodicWork):
    """``leads`` says whether this gateway leads: with several gateways on one database only
    the leader reconciles (its plane's store refuses writes once it no longer leads);
    ``epoch`` numbers its leads (each new one starts with nothing deployed)."""

    def __init__(self, plane: ControlPlane, interval: float,
                 leads: Callable[[], bool] = lambda: True,
                 epoch: Callable[[], int] = lambda: 0) -> None:  # fmt: skip
        super().__init__("reconciler", interval)
        self._plane = plane
        self._leads = leads
        self._epoch = epoch
        self._settled: Settled | None = None

    def run_once(self) -> None:
        """One pass over every experiment, then every endpoint, unless nothing changed since
        a pass that found everything settled."""
        if not self._leads():
            self._settled = None  # the runtime let go of everything with the lead
            return
        before = self._look()
        now = self._plane.clock.now()
        if self._settled is not None and self._settled.holds(before, now):
            return
        self._settled = None  # a pass that fails half-way leaves nothing remembered
        with self._plane.store.transaction() as tx:
            experiments = [(s, e.value.name) for s, e in all_scopes(tx, InferenceExperiment)]
            endpoints = [(s, e.value.endpoint_name) for s, e in all_scopes(tx, Endpoint)]
        dues = [self._advance_experiment(scope, name) for scope, name in experiments]
        settled = [self._reconcile_endpoint(scope, name) for scope, name in endpoints]
        until = min((due for due in dues if due is not None), default=None)
        # Only a pass that wrote nothing has seen the state it leaves: after a write the next
        # pass looks again.
        quiet = all(settled) and (until is None or until > now) and self._look() == before
        self._settled = Settled(before, until) if quiet else None

    def _look(self) -> Look:
        with self._plane.store.transaction() as tx:
            return (
                self._epoch(),
                tx.stored(list(KINDS.values())),
                tx.tagged(REDACT_TAG),
            )

    def _advance_experiment(self, scope: Scope, name: str) -> datetime | None:
        """Advance one experiment; when it next has to move without being asked (``now``
        if it may still be moving, or could not be moved)."""
        now = self._plane.clock.now()
        try:
            with self._plane.repository(scope) as repo:
                found = repo.find(InferenceExperiment, name)
                if found is None:
                    return None
                experiment_steps.advance(repo, found, now)
                return experiment_steps.due(found.value, now)
        except StaleWrite:
            return now  # Changed by a request meanwhile; the next pass sees the new state.
        except StorageFull:
            return now  # Nothing was written; the next pass tries again (the store logged it).
        except DomainError as exc:
            self._cancel(scope, name, exc.message)
        except Exception as exc:
            log.exception("experiment %s failed", name)
            self._cancel(scope, name, f"Unexpected error: {exc}")
        return now

    def _cancel(self, scope: Scope, name: str, reason: str) -> None:
        with self._plane.repository(scope) as repo:
            found = repo.find(InferenceExperiment, name)
            if found is not None and found.value.is_active():
                experiment_steps.cancel(repo, found, reason, self._plane.clock.now())

    def _reconcile_endpoint(self, scope: Scope, name: str) -> bool:
        """Move one endpoint towards what is stored; whether it was already there (served
        as stored, or failed, or gone: nothing to do until the store changes)."""
        with self._plane.repository(scope) as repo:
            found = repo.find(Endpoint, name)
            if found is None:
                return True
            endpoint, version = found.value, found.document.version
            deployment = None if _deleting(endpoint) else _deployment(repo, endpoint)
        if deployment is None:
            if not _deleting(endpoint):
                return True
            if self._plane.runtime.undeploy(scope, name, endpoint.creation_time):
                self._remove(scope, name, version)
            return False
        result = self._plane.runtime.deploy(deployment)
        if endpoint.endpoint_status in ROLLING_OUT:
            self._settle(scope, name, version, result)
            return False
        return result.state != DeployState.PENDING

    def _remove(self, scope: Scope, name: str, version: int) -> None:
        with self._plane.repository(scope) as repo:
            found = repo.find(Endpoint, name)
            if found is not None and found.document.version == version:
                repo.remove(found)
                repo.tx.delete_tags(found.value.endpoint_arn)

    def _settle(self, scope: Scope, name: str, version: int, result: DeployResult) -> None:
        if result.state == DeployState.PENDING:
            return
        with self._plane.repository(scope) as repo:
            found = repo.find(Endpoint, name)
            if found is None or found.document.version != version:
                return  # Changed meanwhile: the next pass deploys the new desired state.
            endpoint = found.value
            if result.state == DeployState.READY:
                endpoint.endpoint_config_name = endpoint.target_config_name()
                endpoint.endpoint_status = EndpointStatus.IN_SERVICE
                endpoint.failure_reason = None
            elif endpoint.endpoint_status == EndpointStatus.CREATING:
                endpoint.endpoint_status = EndpointStatus.FAILED
                endpoint.failure_reason = result.reason
            else:
                # A failed update leaves the endpoint serving its previous config.
                endpoint.endpoint_status = EndpointStatus.IN_SERVICE
                endpoint.failure_reason = result.reason
            endpoint.pending_endpoint_config_name = None
            endpoint.last_modified_time = self._plane.clock.now()
            repo.save(found)


def _deleting(endpoint: Endpoint) -> bool:
    return endpoint.endpoint_status == EndpointStatus.DELETING


def _deployment(repo: Repository, endpoint: Endpoint) -> Deployment | None:
    """What the endpoint should serve now: its target config with capacities applied."""
    if endpoint.endpoint_status == EndpointStatus.FAILED:
        return None
    config_found = repo.find(EndpointConfig, endpoint.target_config_name())
    if config_found is None:
        return None
    config = config_found.value.model_copy(deep=True)
    for variant in config.production_variants:
        capacity = endpoint.capacity(variant.variant_name)
        if capacity is not None and capacity.desired_weight is not None:
            variant.initial_variant_weight = capacity.desired_weight
        if capacity is not None and capacity.desired_instance_count is not None:
            variant.initial_instance_count = capacity.desired_instance_count
    models = {}
    for model_name in config.model_names():
        model = repo.find(Model, model_name)
        if model is not None:
            models[model_name] = model.value
    experiment = _active_experiment(repo, endpoint)
    redaction: frozenset[str] = frozenset()
    if experiment is not None:
        tags = dict(repo.tx.tags(experiment.arn))
        with contextlib.suppress(RedactionError):  # checked when set; never block a deploy
            redaction = redacted_keys(tags.get(REDACT_TAG))
    return Deployment(repo.scope, endpoint, config, models, experiment, redaction)


def _active_experiment(repo: Repository, endpoint: Endpoint) -> InferenceExperiment | None:
    for loaded in repo.all(InferenceExperiment):
        experiment = loaded.value
        if experiment.endpoint_name.lower() == endpoint.endpoint_name.lower() and (
            experiment.is_active()
        ):
            return experiment
    return None
