"""A throwaway one-node Ray cluster for tests: every port it opens on loopback, stopped
(with every process it started) when the test is done.

Ray binds to 127.0.0.1 only in its "local" mode (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0);
with any other node address, or to add a second node, it listens on every interface. So
the tests run one node; its logical CPUs and memory are raised to hold several instances
of ml.m5.large (2 CPUs, 8 GiB) on this 2-core machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
LOGICAL_CPUS = 32
LOGICAL_MEMORY = 256 * 1024**3
WORKER_PORTS = 24  # Ray's worker processes (actors among them) each listen on one


# Read by Ray when it is imported: a process that is a Ray driver (a server with --runtime
# ray, a test) must have these in its environment before it imports ray.
LOOPBACK_ONLY = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # Ray's loopback-only mode
    "RAY_USAGE_STATS_ENABLED": "0",
}


def ray_environment() -> dict[str, str]:
    """What every Ray process of the test cluster, and its drivers, run with."""
    autoscaler, dashboard = _distinct_free_ports(2)
    return {
        **LOOPBACK_ONLY,
        # Ray starts one idle Python worker per logical CPU in advance; the test cluster's
        # CPUs are logical (many, on 2 real cores), and actors start their own processes.
        "RAY_enable_worker_prestart": "0",
        "RAY_prestart_worker_first_driver": "0",
        # Metrics ports Ray otherwise opens on fixed numbers (44217, 44227).
        "AUTOSCALER_METRIC_PORT": str(autoscaler),
        "DASHBOARD_METRIC_PORT": str(dashboard),
    }


@contextmanager
def ray_cluster() -> Iterator[str]:
    """Yields the cluster's address (127.0.0.1:port); stops it afterwards."""
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # Ray's socket paths are short
    flags = ("--port", "--node-manager-port", "--object-manager-port", "--runtime-env-agent-port",
             "--dashboard-agent-grpc-port", "--dashboard-agent-listen-port",
             "--metrics-export-port")  # fmt: skip
    ports = _distinct_free_ports(len(flags) + WORKER_PORTS)  # Ray refuses one port twice
    options = [
        "--head", "--block", "--node-ip-address", "127.0.0.1",
        "--num-cpus", str(LOGICAL_CPUS), "--memory", str(LOGICAL_MEMORY),
        "--object-store-memory", str(200 * 1024**2), "--include-dashboard=false",
        "--disable-usage-stats", "--temp-dir", str(temp),
        "--worker-port-list", ",".join(str(port) for port in ports[len(flags):]),
    ]  # fmt: skip
    for flag, port in zip(flags, ports, strict=False):
        options += [flag, str(port)]
    log = (temp / "ray-start.log").open("wb")
    process = subprocess.Popen(
        [RAY, "start", *options], stdout=log, stderr=subprocess.STDOUT,
        env=os.environ | ray_environment(), start_new_session=True,
    )  # fmt: skip
    address = f"127.0.0.1:{ports[0]}"
    try:
        _wait_ready(address, process, temp)
        yield address
    finally:
        _stop(process)
        log.close()


def _distinct_free_ports(count: int) -> list[int]:
    """``count`` free loopback ports, all different (held open together while chosen)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait_ready(address: str, process: subprocess.Popen[bytes], temp: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ray start exited; see {temp / 'ray-start.log'}")
        status = subprocess.run(
            [RAY, "status", "--address", address], capture_output=True, check=False,
            env=os.environ | ray_environment(),
        )  # fmt: skip
        if status.returncode == 0 and b"Active:" in status.stdout:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the Ray cluster did not start; see {temp / 'ray-start.log'}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to `ray start --block`'s session (it stops the processes it started), then
    SIGKILL to whatever is left of it."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(20)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
