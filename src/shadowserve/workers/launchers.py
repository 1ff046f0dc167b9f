"""Launchers make a variant's instances; the runtime (workers/runtime.py) decides when.

The local launcher starts built-in worker processes on this machine; the Ray launcher
(workers/ray_launcher.py) places them on a cluster's nodes. Both start the same worker from
the same model archive and code, and both hand back Instances the pools route to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from shadowserve.domain.arns import Scope
from shadowserve.domain.resources import Model, ProductionVariant
from shadowserve.logs.store import StreamWriter
from shadowserve.workers.artifacts import ArtifactCache, ArtifactError
from shadowserve.workers.environments import ModelEnvironments
from shadowserve.workers.instance import Instance
from shadowserve.workers.process import Worker, WorkerSpec

CONTAINER_MODEL_DIR = PurePosixPath("/opt/ml/model")  # where SageMaker unpacks model.tar.gz


@dataclass(frozen=True)
class InstancePlan:
    """One variant's instances to make: what they run, and a log stream for each."""

    scope: Scope
    name: str  # endpoint/variant
    variant: ProductionVariant
    model: Model
    identity: str  # the pool's (workers/runtime.py): same identity, same instances
    owner: str  # the endpoint's (workers/runtime.py, endpoint_owner)
    writers: list[StreamWriter]  # one per instance, in instance order
    shadow: bool = False  # a shadow variant's (it yields the CPU where it can)

    def environment(self) -> dict[str, str]:
        container = self.model.serving_container()
        return dict(container.environment or {}) if container else {}

    def model_data_url(self) -> str | None:
        container = self.model.serving_container()
        return container.model_data_url if container else None

    def log(self, line: str) -> None:
        """A line for every instance's stream (what happens before they start)."""
        for writer in self.writers:
            writer.write(line)


class Launcher(Protocol):
    def instances(self, plan: InstancePlan) -> list[Instance]:
        """The instances for ``plan``, not started; may take long (fetching, installing)
        and raises ArtifactError with the FailureReason when they cannot be made."""
        ...

    def released(self, identity: str) -> None:
        """The pool of ``identity`` is stopped for good: free what it held."""
        ...

    def withdrawn(self, owner: str) -> None:
        """The endpoint of ``owner`` is deleted and the pools this server held for it are
        stopped: free anything else made for it (what a previous leader left running)."""
        ...

    def collect(self, identities: set[str]) -> None:
        """Free what this launcher made for pools other than ``identities`` (what a
        previous leader left running for an endpoint deleted since); called often, on the
        leader only."""
        ...


def code_location(submit_directory: str | None) -> str | PurePosixPath:
    """Where a model's inference code is: a URL of a sourcedir.tar.gz (what the SageMaker
    SDK uploads for ``entry_point`` and ``source_dir``), or a folder inside the model
    archive (``code/`` unless SAGEMAKER_SUBMIT_DIRECTORY names another under /opt/ml/model)."""
    if not submit_directory:
        return PurePosixPath("code")
    if submit_directory.startswith(("s3://", "https://", "http://")):
        return submit_directory
    inside = PurePosixPath(submit_directory)
    if inside.is_relative_to(CONTAINER_MODEL_DIR):
        return inside.relative_to(CONTAINER_MODEL_DIR)
    raise ArtifactError(
        f"SAGEMAKER_SUBMIT_DIRECTORY {submit_directory} must be an s3:// or https:// URL "
        f"of a sourcedir.tar.gz, or a directory under {CONTAINER_MODEL_DIR}."
    )


class LocalLauncher:
    """Worker processes on this machine, from archives unpacked here."""

    def __init__(
        self,
        artifacts: ArtifactCache,
        environments: ModelEnvironments,
        workers_dir: Path,
        worker_hosts: tuple[str, str] = ("127.0.0.1", "127.0.0.1"),
        shadow_niceness: int = 0,
    ) -> None:
        self._artifacts = artifacts
        self._environments = environments
        self._workers_dir = workers_dir
        self._worker_hosts = worker_hosts  # (bind, advertised)
        self._shadow_niceness = shadow_niceness

    def instances(self, plan: InstancePlan) -> list[Instance]:
        model_dir = self._artifacts.model_dir(plan.model_data_url())
        environment = plan.environment()
        where = code_location(environment.get("SAGEMAKER_SUBMIT_DIRECTORY"))
        code_dir = model_dir / where if isinstance(where, PurePosixPath) else None
        code_dir = code_dir or self._artifacts.model_dir(str(where))
        base = self._workers_dir / plan.scope.region / plan.name / plan.identity[:12]
        plan.log(f"shadowserve: preparing model {plan.model.model_name}")
        python = self._environments.python_for(code_dir / "requirements.txt", plan.log)
        bind, advertised = self._worker_hosts
        niceness = self._shadow_niceness if plan.shadow else 0
        specs = [
            WorkerSpec(
                model_dir,
                code_dir,
                environment,
                base / str(index),
                writer,
                python,
                bind,
                advertised,
                niceness,
            )
            for index, writer in enumerate(plan.writers)
        ]
        return [Worker(name=f"{plan.name}/{index}", spec=spec) for index, spec in enumerate(specs)]

    def released(self, identity: str) -> None:
        """Nothing is held beyond the processes, which the pool stopped."""

    def withdrawn(self, owner: str) -> None:
        """Nothing outlives this server's processes."""

    def collect(self, identities: set[str]) -> None:
        """Nothing outlives this server's processes."""
