"""Two gateways on one PostgreSQL, both ``--runtime ray`` in one namespace: only the leader
places actors; when it dies the next leader adopts them; actors no endpoint claims are
removed after the grace period."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shadowserve.cli.server_process import ServerProcess
from tests.cluster.test_gateways import _answers, _leader_and_follower
from tests.dataplane_fixtures import Models
from tests.dataplane_support import process_alive, wait_until, worker_pids
from tests.gateways import two_gateways
from tests.on_ray.conftest import ray_server_args

Actors = Callable[..., list[str]]
NAMESPACE = "two-gateways"


@pytest.fixture
def gateways(tmp_path: Path, cluster: str, s3_url: str) -> Iterator[list[ServerProcess]]:
    def options(_name: str, data_dir: Path) -> list[str]:
        return ray_server_args(cluster, s3_url, data_dir, NAMESPACE)

    with two_gateways(tmp_path, options) as servers:
        yield servers


def test_only_the_leader_places_actors_and_the_next_leader_adopts_them(
    gateways: list[ServerProcess], s3_url: str, actors: Actors
) -> None:
    leader, follower = _leader_and_follower(gateways)
    models = Models(follower, s3_url)  # created through the follower: placed by the leader
    endpoint = models.endpoint(models.model(), count=2)
    wait_until(lambda: all(_answers(server, endpoint) for server in gateways), timeout=60)
    named = actors(NAMESPACE)
    assert len(named) == 2  # not one set per gateway
    pids = sorted(worker_pids(leader.data_dir / "node", endpoint))
    assert len(pids) == 2
    leader.kill()  # SIGKILL: no goodbye; its actors live on in the cluster
    wait_until(lambda: httpx.get(f"{follower.url}/healthz").json()["leads"], timeout=60)
    wait_until(lambda: _answers(follower, endpoint), timeout=60)
    assert actors(NAMESPACE) == named  # adopted, not placed again
    assert all(process_alive(pid) for pid in pids)
    models.sagemaker.delete_endpoint(EndpointName=endpoint)
    wait_until(lambda: actors(NAMESPACE) == [], timeout=60)


def test_an_endpoint_deleted_while_no_gateway_leads_loses_its_actors(
    gateways: list[ServerProcess], s3_url: str, actors: Actors
) -> None:
    leader, follower = _leader_and_follower(gateways)
    models = Models(follower, s3_url)
    endpoint = models.endpoint(models.model(), count=2)
    assert len(actors(NAMESPACE)) == 2
    pids = worker_pids(leader.data_dir / "node", endpoint)
    leader.kill()
    # Deleted before the follower leads: the next leader never holds the endpoint's pools,
    # and still removes its actors at once (not after the unclaimed grace period).
    models.sagemaker.delete_endpoint(EndpointName=endpoint)
    wait_until(lambda: httpx.get(f"{follower.url}/healthz").json()["leads"], timeout=60)
    wait_until(lambda: actors(NAMESPACE) == [], timeout=60)
    wait_until(lambda: not any(process_alive(pid) for pid in pids), timeout=60)


def test_actors_no_endpoint_claims_are_removed_after_the_grace_period(
    tmp_path: Path, cluster: str, s3_url: str, actors: Actors
) -> None:
    namespace = "unclaimed"
    first = ServerProcess(tmp_path / "first",
                          extra_args=ray_server_args(cluster, s3_url, tmp_path / "first",
                                                     namespace))  # fmt: skip
    with first:
        models = Models(first, s3_url)
        models.endpoint(models.model())
        assert len(actors(namespace)) == 1
    # A server with another database in the same namespace: that actor is no endpoint's.
    args = [*ray_server_args(cluster, s3_url, tmp_path / "second", namespace),
            "--ray-unclaimed-grace", "1"]  # fmt: skip
    with ServerProcess(tmp_path / "second", extra_args=args):
        wait_until(lambda: actors(namespace) == [], timeout=60)
    wait_until(lambda: not worker_pids(tmp_path / "first"), timeout=60)
