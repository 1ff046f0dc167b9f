"""Two gateways on one throwaway PostgreSQL, started one after the other (gw-a leads)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from shadowserve.cli.server_process import ServerProcess
from tests.postgres import postgres_server


@contextmanager
def two_gateways(
    base: Path, options: Callable[[str, Path], list[str]]
) -> Iterator[list[ServerProcess]]:
    """``options(name, data_dir)``: each gateway's flags besides --db and --gateway-id."""
    with postgres_server() as database:
        servers = [
            ServerProcess(base / name, extra_args=[*options(name, base / name), "--db", database,
                                                   "--gateway-id", name])
            for name in ("gw-a", "gw-b")
        ]  # fmt: skip
        for server in servers:
            server.start(timeout=90)
        try:
            yield servers
        finally:
            for server in servers:
                server.stop()
