"""One Settings object for the whole server, filled from CLI flags and SHADOWSERVE_* env."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


def sqlite_url(data_dir: Path) -> str:
    """The default database: SQLite in the data dir."""
    return f"sqlite:///{data_dir / 'shadowserve.db'}"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path(".shadowserve")
    # A SQLAlchemy URL; None means SQLite in the data dir.
    db_url: str | None = None
    account_id: str = "123456789012"
    # Seconds between reconciler passes: how quickly statuses move and schedules fire.
    reconcile_interval: float = 1.0
    log_level: str = "info"
    # S3-compatible endpoint for s3:// model data; None: the local object store in data_dir.
    s3_endpoint_url: str | None = None
    model_timeout: float = 60.0
    # The most a model archive may unpack to (decompression bombs are refused).
    max_model_bytes: int = 20 * 1024**3
    shadow_timeout: float = 60.0
    shadow_concurrency: int = 32
    shadow_queue_size: int = 1000
    # Shadow copies are shed while the event loop runs this many ms late (most of its
    # recent timers): production's requests are then queueing. 0: never shed.
    shadow_shed_lag_ms: float = 10.0
    # Added to shadow workers' nice value (local runtime): on a shared machine they get the
    # CPU only when production and the gateway leave it; 0: the same priority as production.
    shadow_niceness: int = 10
    # How often the event consumers (metrics, capture, event log) take events off the
    # request path, in one batch; 0: each event at once (more CPU per request).
    event_batch_seconds: float = 0.05
    # A capture file is written at the latest this long after its first record.
    capture_flush_seconds: float = 10.0
    # Records held in memory while the capture sink is slow or down; more are dropped.
    capture_max_buffered_records: int = 20_000
    # Two scores (floats) in model outputs agree when they differ by at most this much.
    output_tolerance: float = 1e-6
    # Share (%) of mirrored requests sent to the shadow a second time to learn which output
    # fields are noise (an experiment's first 20 copies always are); 0 turns probing off.
    noise_probe_percentage: float = 5.0
    # Append a JSON line per invocation event here (an audit trail; None: off).
    event_log: Path | None = None
    # "none": any (or no) credentials, all one account. "sigv4": every request signed by a
    # key in credentials_file (AWS shared-credentials format with aws_account_id).
    auth: str = "none"
    credentials_file: Path | None = None
    # This server's name among gateways sharing one database (its aggregate rows, its label
    # in /metrics); None: host name and port (host name and pid on an ephemeral port), so a
    # restarted server is the same gateway.
    gateway_id: str | None = None
    # How long a gateway holds a Cloud Control request it works on; a gateway that dies
    # holding one delays it this long before another carries it on.
    cloudcontrol_lease_seconds: float = 30.0
    # Where model workers listen: loopback, or an address gateways on other machines reach
    # (the leader's workers serve every gateway). advertised: the host in their URLs, when
    # the bind address is a wildcard such as 0.0.0.0; None: the bind address.
    worker_host: str = "127.0.0.1"
    worker_advertised_host: str | None = None
    # What runs model workers: "local" (processes on this machine) or "ray" (actors on the
    # Ray cluster at ray_address, in ray_namespace, caching models under ray_node_dir on
    # each node).
    runtime: str = "local"
    ray_address: str | None = None
    ray_namespace: str = "shadowserve"
    ray_node_dir: str = "/tmp/shadowserve-ray"
    # How long an actor in ray_namespace that no endpoint claims is kept (for the gateway
    # that made it to come back and adopt it) before the leader removes it.
    ray_unclaimed_grace: float = 120.0

    def database_url(self) -> str:
        return self.db_url or sqlite_url(self.data_dir)

    def worker_hosts(self) -> tuple[str, str]:
        return self.worker_host, self.worker_advertised_host or self.worker_host

    def gateway(self) -> str:
        if self.gateway_id:
            return self.gateway_id
        host = socket.gethostname()
        return f"{host}:{self.port}" if self.port else f"{host}-pid{os.getpid()}"
