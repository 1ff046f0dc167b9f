"""The lead on a real PostgreSQL: one holder at a time, taken over when the holder's session
ends, and a deposed leader's writes refused by the epoch before it has noticed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from shadowserve.cluster.leadership import FencedStore, Leadership, NotLeader, leader_of
from shadowserve.cluster.membership import CLUSTER
from shadowserve.store.sql import SqlStore
from tests.postgres import postgres_server


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with postgres_server() as found:
        yield found


class Candidate:
    def __init__(self, url: str, gateway: str) -> None:
        self.store = SqlStore(url, writer=gateway)
        self.events: list[str] = []
        self.leadership = Leadership(self.store.engine, self.store, gateway,
                                     elected=lambda: self.events.append("elected"),
                                     deposed=lambda: self.events.append("deposed"))  # fmt: skip


def _terminate(url: str, pid: int) -> None:
    """End a session and return once it has ended (pg_terminate_backend only signals it; the
    advisory lock is free once the backend has exited, which on a busy machine is later)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        # PostgreSQL 14+: waits up to the timeout (ms) for the backend to exit, else warns.
        ended = connection.execute(
            text("SELECT pg_terminate_backend(:pid, 60000)"), {"pid": pid}
        ).scalar()
    engine.dispose()
    assert ended, f"session {pid} did not end"


def test_one_leads_until_its_session_ends_and_then_its_writes_are_refused(url: str) -> None:
    first, second = Candidate(url, "gw-1"), Candidate(url, "gw-2")
    first.leadership.run_once()
    second.leadership.run_once()
    assert (first.leadership.leads(), second.leadership.leads()) == (True, False)
    assert first.events == ["elected"] and leader_of(first.store) == "gw-1"
    fenced = FencedStore(first.store, first.leadership)
    with fenced.transaction() as tx:
        assert tx.get("x", CLUSTER, "y") is None  # the leader's writes pass the fence
    connection = first.leadership._connection  # the lock's own session
    assert connection is not None
    pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
    assert isinstance(pid, int)
    _terminate(url, pid)
    second.leadership.run_once()  # the lock is free: taken at the next try
    assert second.leadership.leads() and second.leadership.epoch() == first.leadership.epoch() + 1
    assert leader_of(second.store) == "gw-2"
    # gw-1 has not checked yet and still thinks it leads; its writes are refused anyway.
    assert first.leadership.leads()
    with pytest.raises(NotLeader), fenced.transaction():
        pass
    first.leadership.run_once()  # now it notices
    assert not first.leadership.leads() and first.events == ["elected", "deposed"]
    first.leadership.run_once()
    assert not first.leadership.leads()  # the lock is held: it follows
    second.leadership.stop()
    first.leadership.run_once()
    assert first.leadership.leads() and first.leadership.epoch() == 3
    first.leadership.stop()
    for candidate in (first, second):
        candidate.store.close()
