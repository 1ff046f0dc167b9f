"""One contract, every store backend: what the services may rely on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from shadowserve.config import sqlite_url
from shadowserve.domain.arns import ResourceKind, Scope
from shadowserve.domain.errors import StaleWrite
from shadowserve.store.base import AggregateKey, Document, DuplicateKeyError, Store, StoredRow
from shadowserve.store.memory import MemoryStore
from shadowserve.store.schema import metadata
from shadowserve.store.sql import SqlStore
from tests.postgres import postgres_server

EAST = Scope("123456789012", "us-east-1")
WEST = Scope("123456789012", "us-west-2")
MODEL = ResourceKind.MODEL


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SqlStore(sqlite_url(tmp_path))
    else:
        url = request.getfixturevalue("postgres_url")
        made = SqlStore(url)
        _empty(url)
    yield made
    made.close()


def _empty(url: str) -> None:
    """The PostgreSQL database is shared by the module's tests: start each from nothing."""
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


def _doc(name: str, scope: Scope = EAST, **body: object) -> Document:
    return Document(MODEL, scope, name, {"Name": name, **body})


def test_insert_get_and_scopes(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert(_doc("a"))
        tx.insert(_doc("a", WEST, where="west"))
    with store.transaction() as tx:
        got = tx.get(MODEL, EAST, "a")
        assert got is not None and got.version == 1 and got.body == {"Name": "a"}
        assert tx.get(MODEL, WEST, "a").body["where"] == "west"  # type: ignore[union-attr]
        assert tx.get(MODEL, EAST, "b") is None
        assert tx.get(ResourceKind.ENDPOINT, EAST, "a") is None
        assert {d.name_key for d in tx.find_all(MODEL, EAST)} == {"a"}
        assert len(tx.find_all(MODEL)) == 2


def test_duplicate_insert_fails_and_keeps_the_first(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert(_doc("a", v=1))
    with pytest.raises(DuplicateKeyError), store.transaction() as tx:
        tx.insert(_doc("a", v=2))
    with store.transaction() as tx:
        assert tx.get(MODEL, EAST, "a").body["v"] == 1  # type: ignore[union-attr]


def test_stale_update_and_delete_are_refused(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert(_doc("a"))
    with store.transaction() as tx:
        first = tx.get(MODEL, EAST, "a")
        second = tx.get(MODEL, EAST, "a")
    assert first is not None and second is not None
    first.body["x"] = 1
    with store.transaction() as tx:
        assert tx.update(first).version == 2
    second.body["x"] = 2
    with pytest.raises(StaleWrite), store.transaction() as tx:
        tx.update(second)
    with pytest.raises(StaleWrite), store.transaction() as tx:
        tx.delete(second)
    with store.transaction() as tx:
        current = tx.get(MODEL, EAST, "a")
        assert current is not None and current.body["x"] == 1
        tx.delete(current)
        assert tx.get(MODEL, EAST, "a") is None


def test_a_failed_transaction_changes_nothing(store: Store) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model/a"
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.insert(_doc("a"))
        tx.put_tags(arn, [("k", "v")])
        raise RuntimeError("boom")
    with store.transaction() as tx:
        assert tx.get(MODEL, EAST, "a") is None
        assert tx.tags(arn) == []


def test_tags_keep_order_overwrite_and_delete(store: Store) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model/a"
    with store.transaction() as tx:
        tx.put_tags(arn, [("b", "1"), ("a", "2")])
        tx.put_tags(arn, [("c", "3"), ("b", "9")])
        assert tx.tags(arn) == [("b", "9"), ("a", "2"), ("c", "3")]
        tx.delete_tags(arn, ["a", "missing"])
        assert tx.tags(arn) == [("b", "9"), ("c", "3")]
        tx.delete_tags(arn)
        assert tx.tags(arn) == []


def test_aggregates_put_get_and_find(store: Store) -> None:
    def key(start: int, kind: str = "variant", experiment: str = "x") -> AggregateKey:
        return AggregateKey(kind, EAST, "ep", "v", "production", experiment, start)

    with store.transaction() as tx:
        for start in (20, 10, 30):
            tx.put_aggregate(key(start), {"n": start})
        tx.put_aggregate(key(10), {"n": 11})  # replaces
        tx.put_aggregate(key(10, kind="pair"), {"p": 1})
        tx.put_aggregate(key(10, experiment="other"), {"n": 0})
    with store.transaction() as tx:
        assert tx.get_aggregate(key(10)) == {"n": 11}
        assert tx.get_aggregate(key(40)) is None
        found = tx.find_aggregates("variant", EAST, "ep", "x")
        assert [(k.start, body) for k, body in found] == [(10, {"n": 11}), (20, {"n": 20}),
                                                          (30, {"n": 30})]  # fmt: skip
        assert len(tx.find_aggregates("variant", EAST)) == 4
        assert tx.find_aggregates("variant", WEST) == []
        assert [b for _, b in tx.find_aggregates("pair", EAST, "ep", "x")] == [{"p": 1}]
        window = tx.find_aggregates("variant", EAST, "ep", "x", since=20, until=30)
        assert [k.start for k, _ in window] == [20]
        assert tx.aggregated_variants(EAST, since=0) == [("ep", "v")]
        assert tx.aggregated_variants(EAST, since=31) == []
        assert tx.aggregated_variants(WEST, since=0) == []


def test_work_is_claimed_by_one_owner_until_its_lease_ends(store: Store) -> None:
    with store.transaction() as tx:
        for key in ("a", "b", "c"):
            tx.enqueue("q", EAST, key)
        tx.enqueue("q", EAST, "a")  # queued once
        tx.enqueue("other", WEST, "z")
    with store.transaction() as tx:
        first = tx.claim("q", "gw-1", now=100.0, lease_seconds=30.0, limit=2)
    assert len(first) == 2 and all(scope == EAST for scope, _ in first)
    with store.transaction() as tx:
        second = tx.claim("q", "gw-2", now=101.0, lease_seconds=30.0, limit=10)
    assert sorted(first + second) == [(EAST, "a"), (EAST, "b"), (EAST, "c")]  # none twice
    with store.transaction() as tx:
        assert tx.claim("q", "gw-2", now=110.0, lease_seconds=30.0, limit=10) == second
        assert sorted(tx.claim("q", "gw-1", now=110.0, lease_seconds=30.0, limit=10)) == sorted(
            first
        )  # an owner renews its own claims
        tx.dequeue("q", *first[0])
    with store.transaction() as tx:
        # gw-1's lease (renewed until 140) ends; gw-3 takes what is left of it.
        taken = tx.claim("q", "gw-3", now=141.0, lease_seconds=30.0, limit=10)
    assert first[0] not in taken and first[1] in taken
    with store.transaction() as tx:
        assert tx.claim("other", "gw-1", now=1.0, lease_seconds=1.0, limit=10) == [(WEST, "z")]


def test_stored_tells_any_change_of_the_kinds_asked_for(store: Store) -> None:
    def look() -> list[StoredRow]:
        with store.transaction() as tx:
            return tx.stored([MODEL])

    with store.transaction() as tx:
        tx.insert(_doc("b", size=1))
        tx.insert(_doc("a", WEST))
        tx.insert(Document(ResourceKind.ENDPOINT, EAST, "ep", {"Name": "ep"}))
    first = look()
    assert [(row[0], row[2], row[3], row[4]) for row in first] == [
        (MODEL, "us-east-1", "b", 1), (MODEL, "us-west-2", "a", 1)]  # fmt: skip
    assert look() == first  # nothing written: the same
    with store.transaction() as tx:
        found = tx.get(MODEL, EAST, "b")
        assert found is not None
        tx.delete(found)
        tx.insert(_doc("b", size=2))  # the same name and version, another body
    recreated = look()
    assert recreated != first and recreated[0][4] == 1
    with store.transaction() as tx:
        tx.put_tags("arn:x", [("k", "1"), ("other", "2")])
        tx.put_tags("arn:w", [("k", "3")])
    with store.transaction() as tx:
        assert tx.tagged("k") == [("arn:w", "3"), ("arn:x", "1")]
    assert look() == recreated  # tags are not resources
