"""What runs on a Ray node for one instance of a variant: an actor that unpacks the model
there, builds its environment there (cached per node), and starts and restarts the same
built-in worker a local server runs, bound to the node's address.

The gateway never sends requests through Ray: it calls the worker's URL over HTTP, as it
calls a local worker. Ray places the actor (its resources are the instance's), restarts it
when its process or node dies, and keeps it when the gateway that made it goes away (a
detached, named actor), so the next gateway to lead adopts it.

Nothing here imports Ray at module level: the gateway imports this module to name the
actor class, and Ray imports it again on the node.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from shadowserve.workers.artifacts import unpacked
from shadowserve.workers.environments import ModelEnvironments
from shadowserve.workers.instance import HealthChecks, WorkerState
from shadowserve.workers.process import Worker, WorkerSpec

TEND_INTERVAL = 0.25  # seconds between the actor's own looks at its worker
KEPT_LINES = 10_000  # log lines held for the gateway to collect; older ones are dropped


@dataclass(frozen=True)
class NodeSpec:
    """What an instance's actor is made with (kept by Ray: a restarted actor gets it again)."""

    name: str  # endpoint/variant/index, for its log lines
    environment: dict[str, str]
    node_dir: str  # the node's cache of models, environments and run folders
    max_model_bytes: int


@dataclass(frozen=True)
class Archives:
    """The model's archive and, when SAGEMAKER_SUBMIT_DIRECTORY names one, its code's; each
    with a digest naming its folder in the node's cache. ``code_subdir``: the code's folder
    inside the model when there is no code archive."""

    model: bytes | None
    model_digest: str
    code: bytes | None = None
    code_digest: str = ""
    code_subdir: str = "code"


@dataclass
class LineBuffer:
    """The worker's output lines, numbered, until the gateway collects them."""

    _lines: deque[tuple[int, int, str]] = field(default_factory=lambda: deque(maxlen=KEPT_LINES))
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, message: str, timestamp: int | None = None) -> None:
        with self._lock:
            stamp = timestamp if timestamp is not None else int(time.time() * 1000)
            self._lines.append((self._next, stamp, message))
            self._next += 1

    def since(self, cursor: int) -> tuple[list[tuple[int, str]], int]:
        with self._lock:
            return [(stamp, text) for number, stamp, text in self._lines if number >= cursor], (
                self._next
            )


def gpu_environment(gpu_ids: list[Any]) -> dict[str, str]:
    """CUDA_VISIBLE_DEVICES for the GPUs Ray gave the actor (none: nothing set, so a CPU
    instance sees no GPU it was not given only when Ray hid them, as it does)."""
    if not gpu_ids:
        return {}
    return {"CUDA_VISIBLE_DEVICES": ",".join(str(gpu) for gpu in gpu_ids)}


class NodeInstance:
    """The actor's class (made remote by the Ray launcher with the instance's resources)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        import ray  # noqa: PLC0415 (on the node, inside the actor's process)

        self._spec = NodeSpec(**spec)
        self._lines = LineBuffer()
        self._worker: Worker | None = None
        self._preparing = False
        self._error: str | None = None
        self._stopped = threading.Event()
        self._prepare_lock = threading.Lock()
        context = ray.get_runtime_context()
        self._node_id = context.get_node_id()
        self._node_ip = ray.util.get_node_ip_address()
        self._gpus = gpu_environment(ray.get_gpu_ids())
        threading.Thread(target=self._tend, name="instance-tend", daemon=True).start()

    def prepare(self, archives: Archives) -> None:
        """Unpack, install, start; in the background so status() answers meanwhile."""
        with self._prepare_lock:  # calls run on several threads (max_concurrency)
            if self._preparing or self._worker is not None:
                return
            self._preparing = True
        threading.Thread(target=self._prepare, args=(archives,), daemon=True).start()

    def status(self, cursor: int) -> dict[str, Any]:
        worker = self._worker
        lines, next_cursor = self._lines.since(cursor)
        return {
            "prepared": worker is not None,
            "preparing": self._preparing,
            "error": self._error,
            "state": worker.state.value if worker else WorkerState.STARTING.value,
            "failure": worker.failure if worker else None,
            "url": worker.url if worker else None,
            "pid": worker.pid if worker else None,
            "restarts": worker.restarts if worker else 0,
            "node_id": self._node_id,
            "node_ip": self._node_ip,
            "lines": lines,
            "cursor": next_cursor,
        }

    def stop(self) -> None:
        self._stopped.set()
        if self._worker is not None:
            self._worker.stop()

    def kill_worker(self) -> None:
        """Fault injection: the model server dies as in a crash (the actor restarts it)."""
        if self._worker is not None:
            self._worker.kill()

    def _prepare(self, archives: Archives) -> None:
        spec = self._spec
        root = Path(spec.node_dir)
        try:
            self._lines.write(f"shadowserve: preparing {spec.name} on node {self._node_ip}")
            model_dir = _unpacked(root / "models", archives.model_digest, archives.model, spec)
            if archives.code is not None:
                code_dir = _unpacked(root / "models", archives.code_digest, archives.code, spec)
            else:
                code_dir = model_dir / PurePosixPath(archives.code_subdir)
            environments = ModelEnvironments(root / "environments")
            python = environments.python_for(code_dir / "requirements.txt", self._lines.write)
            run_dir = root / "workers" / spec.name.replace("/", "_") / str(os.getpid())
            worker_spec = WorkerSpec(
                model_dir, code_dir, spec.environment | self._gpus, run_dir, self._lines, python,
                self._node_ip, self._node_ip,
            )  # fmt: skip
            worker = Worker(name=spec.name, spec=worker_spec)
            worker.start()
            self._worker = worker
        except Exception as exc:  # every failure is the instance's FailureReason
            self._error = str(exc) or type(exc).__name__
            self._lines.write(f"shadowserve: {self._error}")
        finally:
            self._preparing = False

    def _tend(self) -> None:
        """Watch the worker as the local supervisor does: a dead one restarts with backoff,
        a model that cannot load stays failed."""
        checks = HealthChecks()
        try:
            while not self._stopped.wait(TEND_INTERVAL):
                worker = self._worker
                if worker is None:
                    continue
                worker.poll(checks)
                worker.tend(time.monotonic())
        finally:
            checks.close()


def _unpacked(root: Path, digest: str, data: bytes | None, spec: NodeSpec) -> Path:
    def write(archive: Path) -> None:
        archive.write_bytes(data or b"")

    return unpacked(root, digest, write if data is not None else None, spec.max_model_bytes)


def node_spec(
    name: str, environment: dict[str, str], node_dir: str, max_bytes: int
) -> dict[str, Any]:
    """The actor's constructor argument (a plain dict: Ray pickles it with the actor)."""
    return asdict(NodeSpec(name, environment, node_dir, max_bytes))
