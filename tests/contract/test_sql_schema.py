"""The SQL schema under migrations: databases made before migrations upgrade in place with
their rows, processes starting together on an empty database all come up, and aggregate rows
are kept per writer so gateways sharing a database never overwrite each other's counts."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from shadowserve.config import sqlite_url
from shadowserve.domain.arns import Scope
from shadowserve.metrics.aggregates import VariantAggregate
from shadowserve.metrics.aggregator import Aggregator
from shadowserve.metrics.variant import VariantMetrics
from shadowserve.store import migrate
from shadowserve.store.base import AggregateKey
from shadowserve.store.sql import SqlStore
from tests.postgres import postgres_server

EAST = Scope("123456789012", "us-east-1")
KEY = AggregateKey("variant", EAST, "ep", "v", "production", "x", 10)

# The tables as the release before migrations created them (metadata.create_all).
PREVIOUS_RELEASE = [
    """CREATE TABLE resources (kind VARCHAR(32) NOT NULL, account VARCHAR(12) NOT NULL,
       region VARCHAR(32) NOT NULL, name_key VARCHAR(128) NOT NULL, version INTEGER NOT NULL,
       body TEXT NOT NULL, PRIMARY KEY (kind, account, region, name_key))""",
    """CREATE TABLE tags (arn VARCHAR(256) NOT NULL, tag_key VARCHAR(128) NOT NULL,
       tag_value VARCHAR(256) NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (arn, tag_key))""",
    """CREATE TABLE aggregates (kind VARCHAR(16) NOT NULL, account VARCHAR(12) NOT NULL,
       region VARCHAR(32) NOT NULL, endpoint VARCHAR(64) NOT NULL, variant VARCHAR(64) NOT NULL,
       role VARCHAR(16) NOT NULL, experiment VARCHAR(128) NOT NULL, start INTEGER NOT NULL,
       body TEXT NOT NULL,
       PRIMARY KEY (kind, account, region, endpoint, variant, role, experiment, start))""",
    """INSERT INTO resources VALUES ('Model', '123456789012', 'us-east-1', 'm', 3, '{"a": 1}')""",
    "INSERT INTO tags VALUES ('arn:x', 'team', 'ml', 0)",
    """INSERT INTO aggregates VALUES ('variant', '123456789012', 'us-east-1', 'ep', 'v',
       'production', 'x', 10, '{"n": 7}')""",
    # Cloud Control requests, one still being worked on and one done.
    """INSERT INTO resources VALUES ('cloudcontrol-request', '123456789012', 'us-east-1',
       'open', 2, '{"RequestToken": "open", "OperationStatus": "IN_PROGRESS"}')""",
    """INSERT INTO resources VALUES ('cloudcontrol-request', '123456789012', 'us-east-1',
       'done', 3, '{"RequestToken": "done", "OperationStatus": "SUCCESS"}')""",
]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    server = request.getfixturevalue("postgres_url")
    name = f"db_{abs(hash(request.node.name)) % 10**9}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    yield server.rsplit("/", 1)[0] + f"/{name}"


def test_a_database_from_before_migrations_upgrades_in_place(empty_url: str) -> None:
    engine = create_engine(empty_url)
    with engine.begin() as connection:
        for statement in PREVIOUS_RELEASE:
            connection.execute(text(statement))
    engine.dispose()
    store = SqlStore(empty_url, writer="gw-a")
    with store.transaction() as tx:
        document = tx.get("Model", EAST, "m")
        assert document is not None and (document.body, document.version) == ({"a": 1}, 3)
        assert tx.tags("arn:x") == [("team", "ml")]
        # The old row is kept under writer '' and still counts.
        assert [body for _, body in tx.find_aggregates("variant", EAST)] == [{"n": 7}]
        assert tx.get_aggregate(KEY) is None  # gw-a has written nothing yet
        # The unfinished request is queued for the gateways to carry on; the finished is not.
        assert tx.claim("cloudcontrol", "gw-a", 1.0, 30.0, 10) == [(EAST, "open")]
    with store.engine.connect() as connection:
        assert migrate.current_revision(connection) == migrate.head_revision()
    store.close()
    assert migrate.upgrade(create_engine(empty_url)) == []  # a second start changes nothing


def test_a_new_database_gets_every_migration(empty_url: str) -> None:
    assert migrate.upgrade(create_engine(empty_url)) == ["0001", "0002", "0003"]


def _open(url: str, writer: str, start: multiprocessing.synchronize.Event) -> None:
    start.wait()
    store = SqlStore(url, writer=writer)
    with store.transaction() as tx:
        tx.put_aggregate(KEY, {"n": 1})
    store.close()


def _race(target: Any, *argument_lists: tuple[Any, ...]) -> list[int | None]:
    """Run ``target`` in one process per argument list, released at the same moment (each
    gets the start event last); their exit codes."""
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    processes = [context.Process(target=target, args=(*arguments, start))
                 for arguments in argument_lists]  # fmt: skip
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(timeout=120)
    return [process.exitcode for process in processes]


def test_processes_starting_together_on_an_empty_database_all_come_up(empty_url: str) -> None:
    assert _race(_open, *[(empty_url, f"gw-{i}") for i in range(3)]) == [0, 0, 0]
    store = SqlStore(empty_url, writer="reader")
    with store.transaction() as tx:
        assert len(tx.find_aggregates("variant", EAST)) == 3
    store.close()


def test_each_writer_keeps_its_own_rows_and_reads_see_them_all(empty_url: str) -> None:
    first, second = SqlStore(empty_url, writer="gw-a"), SqlStore(empty_url, writer="gw-b")
    with first.transaction() as tx:
        tx.put_aggregate(KEY, {"n": 1})
    with second.transaction() as tx:
        assert tx.get_aggregate(KEY) is None
        tx.put_aggregate(KEY, {"n": 2})
    with first.transaction() as tx:
        tx.put_aggregate(KEY, {"n": 5})  # replaces gw-a's row only
        assert tx.get_aggregate(KEY) == {"n": 5}
        assert sorted(body["n"] for _, body in tx.find_aggregates("variant", EAST)) == [2, 5]
        assert tx.aggregated_variants(EAST, since=0) == [("ep", "v")]
    first.close()
    second.close()


def test_shadowserve_migrate_upgrades_once(tmp_path: Path) -> None:
    def migrate_command() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "shadowserve.cli", "migrate", "--data-dir", str(tmp_path)],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        return done.stdout.strip()

    assert migrate_command() == "Applied migrations 0001, 0002, 0003; schema at 0003."
    assert migrate_command() == "Schema already at 0003; nothing to do."
    unreachable = subprocess.run(
        [sys.executable, "-m", "shadowserve.cli", "migrate",
         "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert unreachable.returncode == 1
    assert "Error: cannot reach the database:" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr


def _flush_ones(url: str, writer: str, flushes: int, start: Any) -> None:
    # The aggregator's own flush (read its row, merge, write), as fast as it goes: with one
    # shared row per key two such writers lost 39-46 % of their increments on PostgreSQL.
    aggregator = Aggregator(SqlStore(url, writer=writer), VariantMetrics(CollectorRegistry()))
    start.wait()
    for _ in range(flushes):
        aggregator._variants[KEY] = VariantAggregate(invocations=1)
        aggregator._flush()


def test_two_writers_flushing_one_interval_lose_nothing(empty_url: str) -> None:
    SqlStore(empty_url).close()  # migrated before the race: the race is about the rows
    assert _race(_flush_ones, *[(empty_url, f"gw-{i}", 300) for i in range(2)]) == [0, 0]
    store = SqlStore(empty_url, writer="reader")
    with store.transaction() as tx:
        rows = tx.find_aggregates("variant", EAST)
    store.close()
    assert sum(VariantAggregate.from_json(body).invocations for _, body in rows) == 600
