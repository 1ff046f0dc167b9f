"""Model archives that try to write outside their folder, or unpack to far more than they
weigh, are refused with a clear FailureReason; nothing lands outside the model's folder."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shadowserve.cli.server_process import ServerProcess
from tests.conftest import FAST, client
from tests.dataplane_support import wait_until

LIMIT = 1_000_000


def _archive(add: Any) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        add(tar)
    return buffer.getvalue()


def _file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _link(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    tar.addfile(info)


ARCHIVES = {
    "traversal": (lambda tar: _file(tar, "../../escaped.py", b"x = 1\n"), "unsafe"),
    "absolute": (lambda tar: _file(tar, "/tmp/shadowserve-absolute.py", b"x = 1\n"), "unsafe"),
    "symlink": (lambda tar: _link(tar, "code/inference.py", "/etc/passwd"), "unsafe"),
    "bomb": (lambda tar: _file(tar, "weights.bin", bytes(5 * LIMIT)), "more than"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("hostile")
    args = [*FAST, "--max-model-bytes", str(LIMIT)]
    with ServerProcess(data_dir, extra_args=args) as process:
        yield process


@pytest.mark.parametrize("kind", sorted(ARCHIVES))
def test_hostile_archive_is_refused(server: ServerProcess, kind: str) -> None:
    build, expected = ARCHIVES[kind]
    target = server.data_dir / "objects" / "hostile" / f"{kind}.tar.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_archive(build))
    sagemaker = client(server.url)
    name = f"hostile-{kind}"
    sagemaker.create_model(ModelName=name, PrimaryContainer={
        "Image": "x", "ModelDataUrl": f"s3://hostile/{kind}.tar.gz"})  # fmt: skip
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "v", "ModelName": name, "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}])  # fmt: skip
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)

    def failed() -> dict[str, Any] | None:
        described: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=name)
        return described if described["EndpointStatus"] == "Failed" else None

    described = wait_until(failed, timeout=60)
    assert expected in described["FailureReason"], described["FailureReason"]
    assert not Path("/tmp/shadowserve-absolute.py").exists()
    assert not (server.data_dir / "escaped.py").exists()
    assert not (server.data_dir.parent / "escaped.py").exists()
