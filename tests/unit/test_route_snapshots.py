"""A route as the leader publishes it and another gateway reads it back: every field the
request path uses survives (weights, healthy workers, sampling, the experiment, redaction,
capture), and a follower's pool routes round robin over the leader's healthy workers."""

from __future__ import annotations

import json

from shadowserve.cluster.routes import RemotePool, RouteFollower, route_from_json, route_json
from shadowserve.dataplane.routing import EndpointRoute, RoutingTable, ShadowRoute, VariantRoute
from shadowserve.domain.arns import Scope
from shadowserve.domain.resources import DataCaptureConfig
from shadowserve.store.base import Document
from shadowserve.store.memory import MemoryStore

SCOPE = Scope("123456789012", "us-east-1")


def test_a_published_route_reads_back_whole() -> None:
    capture = DataCaptureConfig.model_validate({
        "DestinationS3Uri": "s3://b/c", "InitialSamplingPercentage": 30,
        "CaptureOptions": [{"CaptureMode": "Input"}]})  # fmt: skip
    shadow = ShadowRoute(VariantRoute("shadow", 1.0, RemotePool(("http://h:3",))), 25.0, "exp",
                         frozenset({"user"}))  # fmt: skip
    route = EndpointRoute(
        "Ep",
        (VariantRoute("A", 3.0, RemotePool(("http://h:1", "http://h:2"))),
         VariantRoute("B", 1.0, RemotePool(()))),
        shadow, capture,
    )  # fmt: skip
    body = json.loads(json.dumps(route_json(route)))  # as stored
    back = route_from_json(body)
    assert route_json(back) == body
    assert [(v.name, v.weight) for v in back.production] == [("A", 3.0), ("B", 1.0)]
    assert back.shadow is not None
    assert (back.shadow.sampling_percentage, back.shadow.experiment_name) == (25.0, "exp")
    assert back.shadow.redacted_keys == frozenset({"user"})
    assert back.capture == capture


def test_a_followers_pool_cycles_over_healthy_workers_and_drops_a_refusing_one() -> None:
    pool = RemotePool(("http://h:1", "http://h:2"))
    assert {pool.lease(), pool.lease()} == {"http://h:1", "http://h:2"}
    assert pool.lease(exclude=frozenset({"http://h:1"})) == "http://h:2"
    pool.mark_down("http://h:2")
    assert [pool.lease() for _ in range(3)] == ["http://h:1"] * 3
    pool.mark_down("http://h:1")
    assert pool.lease() is None
    assert len(pool.workers) == 2  # still the variant's instances


def test_a_follower_resyncs_to_the_stored_routes_and_forgets_withdrawn_ones() -> None:
    store, routing = MemoryStore(), RoutingTable()
    follower = RouteFollower(routing, store, "postgresql://unused", "gw")
    body = route_json(EndpointRoute("ep", (VariantRoute("A", 1.0, RemotePool(("http://c:1",))),),
                                    None))  # fmt: skip
    with store.transaction() as tx:
        tx.insert(Document("route", SCOPE, "ep", {"route": body}))
    follower.resync()
    assert routing.get(SCOPE, "ep") is not None
    routing.publish(SCOPE, "ep", None)  # DeleteEndpoint through this gateway withdraws it
    follower.resync()
    assert routing.get(SCOPE, "ep") is None  # stays withdrawn while the leader catches up
    with store.transaction() as tx:
        stored = tx.get("route", SCOPE, "ep")
        assert stored is not None
        tx.delete(stored)  # the leader removed it
    follower.resync()
    with store.transaction() as tx:  # a new endpoint of the same name, the same container
        tx.insert(Document("route", SCOPE, "ep", {"route": body}))
    follower.resync()
    assert routing.get(SCOPE, "ep") is not None
