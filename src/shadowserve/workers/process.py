"""One worker on this machine: a built-in worker process we start, or a container someone
else runs (an Instance, workers/instance.py)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from shadowserve.logs.pump import pump
from shadowserve.logs.store import LineWriter
from shadowserve.workers.instance import HealthChecks, WorkerState, after_ping

LOAD_FAILED_EXIT = 3
RESTART_BACKOFF_MAX = 30.0
HEALTHY_RESET_AFTER = 60.0


@dataclass
class WorkerSpec:
    """How to start a built-in worker for one model."""

    model_dir: Path
    code_dir: Path  # where inference.py is: model_dir/code, or SAGEMAKER_SUBMIT_DIRECTORY's
    environment: dict[str, str]
    run_dir: Path
    log: LineWriter  # the worker's log stream: its stdout and stderr, line by line
    python: str = sys.executable  # a per-model environment's when requirements need one
    # Where the worker listens, and the host in the URL gateways call it at: loopback unless
    # other gateways (on other machines) must reach it too.
    bind_host: str = "127.0.0.1"
    advertised_host: str = "127.0.0.1"
    # Added to the worker's nice value: shadows yield the CPU to production (and to the
    # gateway) on a machine they share.
    niceness: int = 0


@dataclass
class Worker:
    """A worker and what the supervisor knows of it. ``url`` is None until it listens."""

    name: str
    spec: WorkerSpec | None  # None: an external container, not ours to start or stop
    url: str | None = None
    state: WorkerState = WorkerState.STARTING
    failure: str | None = None
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    healthy_since: float | None = None
    _pump: threading.Thread | None = None

    @property
    def node(self) -> str:
        return "local" if self.spec is not None else "external"

    def start(self) -> None:
        if self.spec is None:
            return
        spec = self.spec
        spec.run_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("port", "error"):
            (spec.run_dir / stale).unlink(missing_ok=True)
        command = [
            spec.python, "-m", "shadowserve.workers.python_worker",
            "--model-dir", str(spec.model_dir),
            "--code-dir", str(spec.code_dir),
            "--port-file", str(spec.run_dir / "port"),
            "--error-file", str(spec.run_dir / "error"),
            "--parent-pid", str(os.getpid()),
            "--host", spec.bind_host,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Unbuffered: a model's prints reach its log stream as they happen.
            env=os.environ | spec.environment | {"PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # Ctrl-C in the server's terminal is for the server
        )
        if spec.niceness:
            _lower_priority(self.process.pid, spec.niceness)
        assert self.process.stdout is not None
        self._pump = pump(self.process.stdout, spec.log, self.name)
        self.url = None
        self.state = WorkerState.STARTING
        self.healthy_since = None

    def poll(self, checks: HealthChecks) -> None:
        """Update ``state`` from the process and ``GET /ping``."""
        if self.process is not None and self.process.poll() is not None:
            self._exited(self.process.returncode)
            return
        if self.url is None:
            self.url = self._read_url()
            if self.url is None:
                return
        healthy = checks.answers(self.url)
        if healthy and self.state != WorkerState.HEALTHY:
            self.healthy_since = time.monotonic()
        self.state = after_ping(self.state, healthy)

    def _read_url(self) -> str | None:
        if self.spec is None:
            return self.url
        port_file = self.spec.run_dir / "port"
        if not port_file.exists():
            return None
        return f"http://{self.spec.advertised_host}:{port_file.read_text().strip()}"

    def _exited(self, code: int) -> None:
        if code == LOAD_FAILED_EXIT and self.spec is not None:
            error = self.spec.run_dir / "error"
            self.failure = error.read_text() if error.exists() else "the model failed to load"
            self.state = WorkerState.FAILED
        elif self.state != WorkerState.STOPPED:
            self.failure = f"worker exited with status {code}"
            self.state = WorkerState.UNHEALTHY
        self.process = None
        self.url = None

    def stop(self, timeout: float = 5.0) -> None:
        self.state = WorkerState.STOPPED
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._pump is not None:
            self._pump.join(timeout)  # the last lines it wrote reach its stream

    def tend(self, now: float) -> None:
        """Restart a dead worker, with backoff; a worker that stayed healthy for a minute
        starts its backoff afresh."""
        if self.spec is None or self.state != WorkerState.UNHEALTHY:
            if self.healthy_since and now - self.healthy_since > HEALTHY_RESET_AFTER:
                self.restarts = 0
            return
        if self.process is not None:
            return  # Alive but not answering /ping: give it time (its own timeout applies).
        if self.next_start == 0.0:
            delay = min(RESTART_BACKOFF_MAX, 0.5 * 2**self.restarts)
            self.next_start = now + delay
        if now >= self.next_start:
            self.restarts += 1
            self.next_start = 0.0
            self.start()

    def detach(self) -> None:
        self.stop()  # a process of ours cannot outlive letting go of it

    def kill(self) -> None:
        """For tests and fault injection: the process dies as in a crash."""
        if self.process is not None:
            self.process.kill()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


def _lower_priority(pid: int, niceness: int) -> None:
    """Raise a child's nice value by ``niceness`` (it runs its first instants at ours)."""
    with contextlib.suppress(OSError):  # gone already, or not permitted: our priority it is
        os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, pid) + niceness)
