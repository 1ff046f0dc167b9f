"""What a call to a variant needs of its workers: pick one, lease it for the call, report it
down. The worker pools (workers/pool.py) fulfil it; the request path depends on this port,
not on them."""

from __future__ import annotations

from collections.abc import Sized
from typing import Protocol


class Upstream(Protocol):
    @property
    def workers(self) -> Sized: ...

    @property
    def healthy_urls(self) -> tuple[str, ...]:
        """The workers answering /ping now (what a leader publishes to other gateways)."""
        ...

    def lease(self, exclude: frozenset[str] = frozenset()) -> str | None:
        """A healthy worker's URL for one call, skipping those in ``exclude``; None if there
        is none. Every lease is ended by ``release`` (the pool drains only when none is out)."""
        ...

    def release(self) -> None: ...

    def mark_down(self, url: str) -> None:
        """Stop routing to a worker that refused a connection, until it answers /ping."""
        ...
