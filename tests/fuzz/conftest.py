"""A server of its own for the fuzzers: what they create must not leak into other tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shadowserve.cli.server_process import ServerProcess
from tests.conftest import FAST


@pytest.fixture(scope="package")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("fuzz"), extra_args=FAST) as process:
        yield process
        # Whatever it was sent, it is still up and answering.
        assert httpx.get(process.url + "/healthz", timeout=10).status_code == 200
        assert process.process is not None and process.process.poll() is None


@pytest.fixture(scope="package")
def http(fuzz_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzz_server.url, timeout=30) as client:
        yield client
