"""How fast a route change on the leader reaches another gateway's routing table: the real
RoutePublisher writes (document + NOTIFY) on a throwaway PostgreSQL on loopback, a real
RouteFollower on its own connection applies it. Measured from the change in the leader's
table to the moment the follower's table holds it; also after the follower's listening
connection is killed (resync heals it).

Usage: python -m bench.route_propagation [--changes 300] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rich.console import Console
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tests.postgres import postgres_server  # the same throwaway server the tests use

from shadowserve.cluster.routes import (
    RESYNC_EVERY_SECONDS,
    RemotePool,
    RouteFollower,
    RoutePublisher,
)
from shadowserve.dataplane.routing import EndpointRoute, RoutingTable, VariantRoute
from shadowserve.domain.arns import Scope
from shadowserve.store.sql import SqlStore

console = Console(highlight=False)
SCOPE = Scope("123456789012", "us-east-1")
KILL_LISTENER = text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE application_name = 'shadowserve-routes-bench'"
)


def _route(weight: float) -> EndpointRoute:
    variant = VariantRoute("AllTraffic", weight, RemotePool(("http://127.0.0.1:1",)))
    return EndpointRoute("ep", (variant,), None)


def _wait_for(table: RoutingTable, weight: float, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        route = table.get(SCOPE, "ep")
        if route is not None and route.production[0].weight == weight:
            return time.perf_counter()
        time.sleep(0.0001)
    raise TimeoutError(f"weight {weight} never arrived")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(changes: int) -> dict[str, float]:
    with postgres_server() as url:
        leader_store, follower_store = SqlStore(url, "leader"), SqlStore(url, "follower")
        leader_table, follower_table = RoutingTable(), RoutingTable()
        publisher = RoutePublisher(leader_table, leader_store)
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
        follower = RouteFollower(follower_table, follower_store, conninfo, "bench")
        follower.start()
        delays = []
        for index in range(changes + 20):
            weight = float(index + 1)
            began = time.perf_counter()
            leader_table.publish(SCOPE, "ep", _route(weight))
            publisher.run_once()
            arrived = _wait_for(follower_table, weight, timeout=10)
            if index >= 20:  # warm-up
                delays.append((arrived - began) * 1000)
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(KILL_LISTENER)
        engine.dispose()
        began = time.perf_counter()
        leader_table.publish(SCOPE, "ep", _route(-1.0))
        publisher.run_once()
        healed = _wait_for(follower_table, -1.0, timeout=RESYNC_EVERY_SECONDS * 3) - began
        follower.stop()
        leader_store.close()
        follower_store.close()
    return {
        "changes": changes,
        "p50_ms": statistics.median(delays),
        "p99_ms": _percentile(delays, 0.99),
        "max_ms": max(delays),
        "after_listener_killed_s": healed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    figures = run(args.changes)
    console.print(
        f"Route propagation, leader table → follower table ({figures['changes']} changes): "
        f"p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms, "
        f"max {figures['max_ms']:.2f} ms; with the follower's listening connection killed, "
        f"resync delivered the change after {figures['after_listener_killed_s']:.2f} s"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "route_propagation.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
