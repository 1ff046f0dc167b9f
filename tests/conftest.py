"""Shared fixtures: a real server subprocess, boto3 clients and the AWS CLI against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from shadowserve.cli.server_process import ServerProcess
from tests import builders
from tests.echo_container import echo_container

# The data-plane server (S3 through moto, an event log, tight shadow bounds) and its model
# builders, for the data-plane and dashboard tests; a server of a test's own (`local`).
pytest_plugins = ["tests.dataplane_fixtures", "tests.local_server"]

ROLE = "arn:aws:iam::123456789012:role/shadowserve-tests"
# Test servers never shed shadow copies: on a loaded 2-core CI host their loops can run late,
# and tests count copies exactly. Shedding has its own test (tests/dataplane/test_shadow.py).
FAST = ["--reconcile-interval", "0.1", "--shadow-shed-lag-ms", "0"]


@pytest.fixture(scope="session", autouse=True)
def _aws_environment() -> None:
    # Dummy credentials: the default server accepts any. No real AWS is ever reached.
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session", autouse=True)
def _echo_container() -> Iterator[str]:
    with echo_container() as url:
        builders.CONTAINER_IMAGE["url"] = url
        yield url


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("server"), extra_args=FAST) as process:
        yield process


def client(
    url: str,
    service: str = "sagemaker",
    region: str = "us-east-1",
    *,
    key_id: str = "testing",
    secret: str = "testing",
    attempts: int | None = None,
) -> Any:
    """A boto3 client for the server at `url`. `attempts=1` turns botocore's retries off, to
    see each error (429, 503, a reset connection) as the server sent it."""
    config = Config(retries={"total_max_attempts": attempts}) if attempts else None
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=config,
    )


@pytest.fixture
def sagemaker(server: ServerProcess) -> Any:
    return client(server.url)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names unique to one test, so tests can share one server."""
    suffix = uuid.uuid4().hex[:8]
    return lambda prefix: f"{prefix}-{suffix}"


@pytest.fixture
def aws_cli(server: ServerProcess) -> Callable[..., subprocess.CompletedProcess[str]]:
    executable = str(Path(sys.executable).with_name("aws"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = os.environ | {"AWS_ENDPOINT_URL": server.url, "AWS_PAGER": ""}
        return subprocess.run(
            [executable, *args, "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    return run


def parse_json(completed: subprocess.CompletedProcess[str]) -> Any:
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout) if completed.stdout.strip() else {}
