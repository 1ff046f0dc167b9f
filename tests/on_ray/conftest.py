"""A throwaway Ray cluster on loopback, moto S3, and a server with ``--runtime ray`` on it;
run by ``make test-ray`` (Ray is an optional extra, so ``make test`` leaves these out)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
import ray

from shadowserve.cli.server_process import ServerProcess
from shadowserve.workers.ray_launcher import PREFIX
from tests.conftest import FAST
from tests.dataplane_fixtures import Models
from tests.dataplane_support import moto_s3
from tests.ray_cluster import ray_cluster, ray_environment

NAMESPACE = "shadowserve-tests"


@pytest.fixture(scope="session")
def cluster() -> Iterator[str]:
    with ray_cluster() as address:
        # The servers and this test process (a Ray driver too) use Ray's loopback mode.
        os.environ.update(ray_environment())
        yield address


@pytest.fixture(scope="session")
def s3_url() -> Iterator[str]:
    with moto_s3() as url:
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        s3.create_bucket(Bucket="models")
        yield url


def ray_server_args(cluster: str, s3_url: str, data_dir: Path, namespace: str) -> list[str]:
    return [
        *FAST, "--s3-endpoint-url", s3_url, "--runtime", "ray", "--ray-address", cluster,
        "--ray-namespace", namespace, "--ray-node-dir", str(data_dir / "node"),
        "--event-log", str(data_dir / "events.jsonl"),
    ]  # fmt: skip


@pytest.fixture(scope="session")
def ray_server(
    tmp_path_factory: pytest.TempPathFactory, cluster: str, s3_url: str
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("ray-gateway")
    args = ray_server_args(cluster, s3_url, data_dir, NAMESPACE)
    with ServerProcess(data_dir, extra_args=args) as server:
        yield server


@pytest.fixture
def models(ray_server: ServerProcess, s3_url: str) -> Iterator[Models]:
    found = Models(ray_server, s3_url)
    yield found
    found.clean_up()


@pytest.fixture(scope="session")
def actors(cluster: str) -> Iterator[Callable[[str], list[str]]]:
    """The names of shadowserve's actors in a namespace, as Ray lists them."""
    ray.init(address=cluster, namespace=NAMESPACE, log_to_driver=False)

    def named(namespace: str = NAMESPACE) -> list[str]:
        listed = ray.util.list_named_actors(all_namespaces=True)
        return sorted(a["name"] for a in listed
                      if a["namespace"] == namespace and a["name"].startswith(PREFIX))  # fmt: skip

    yield named
    ray.shutdown()
