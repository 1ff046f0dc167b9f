"""State survives SIGKILL; schedules are driven by stored state, not in-memory timers."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shadowserve.cli.server_process import ServerProcess
from tests.builders import ShadowSetup
from tests.conftest import FAST, client
from tests.postgres import postgres_server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_args(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Server flags for each store backend: the SQLite default, or a PostgreSQL URL."""
    if request.param == "sqlite":
        yield FAST
        return
    with postgres_server() as url:
        yield [*FAST, "--db", url]


def test_scheduled_start_fires_after_a_kill_and_restart(
    tmp_path: Path, database_args: list[str]
) -> None:
    data_dir = tmp_path / "data"
    first = ServerProcess(data_dir, extra_args=database_args).start()
    sagemaker = client(first.url)
    setup = ShadowSetup(sagemaker, "restart")
    start = datetime.now(UTC) + timedelta(seconds=3)
    setup.create(
        Schedule={"StartTime": start, "EndTime": start + timedelta(days=1)},
        Tags=[{"Key": "k", "Value": "v"}],
    )
    setup.wait_for("Created")
    first.kill()
    time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()) + 1)

    second = ServerProcess(data_dir, port=first.port, extra_args=database_args).start()
    try:
        sagemaker = client(second.url)
        setup.sagemaker = sagemaker
        running = setup.wait_for("Running", timeout=20)
        assert running["EndpointMetadata"]["EndpointConfigName"] != f"{setup.endpoint}-config"
        assert sagemaker.describe_model(ModelName=setup.shadow_model)["ModelName"]
        endpoint = sagemaker.describe_endpoint(EndpointName=setup.endpoint)
        assert [v["VariantName"] for v in endpoint["ShadowProductionVariants"]] == ["shadow"]
        experiment_arn = running["Arn"]
        assert sagemaker.list_tags(ResourceArn=experiment_arn)["Tags"] == [
            {"Key": "k", "Value": "v"}
        ]
    finally:
        assert second.stop() == 0  # SIGTERM is a clean shutdown


def test_sigterm_stops_cleanly_and_state_persists(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with ServerProcess(data_dir, extra_args=FAST) as server:
        sagemaker: Any = client(server.url)
        sagemaker.create_model(ModelName="kept", PrimaryContainer={"Image": "x"})
    assert server.process is not None and server.process.returncode == 0
    assert (data_dir / "shadowserve.db").exists()
    with ServerProcess(data_dir, extra_args=FAST) as server:
        assert client(server.url).describe_model(ModelName="kept")["ModelName"] == "kept"


def test_postgresql_without_its_driver_says_what_to_install(tmp_path: Path) -> None:
    # The postgres extra not installed: psycopg cannot be imported.
    blocked = (
        "import sys; sys.modules['psycopg'] = None; from shadowserve.cli.main import main; main()"
    )
    found = subprocess.run(
        [sys.executable, "-c", blocked, "serve", "--data-dir", str(tmp_path), "--port", "0",
         "--db", "postgresql+psycopg://shadowserve@127.0.0.1:9/shadowserve"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert found.returncode == 1
    assert "needs PostgreSQL's driver, which is not installed: pip install " in found.stderr
    assert "'shadowserve[postgres]'" in found.stderr
    assert "Traceback" not in found.stderr


def test_the_ray_runtime_without_ray_says_what_to_install(tmp_path: Path) -> None:
    # The ray extra not installed (the default install): ray cannot be imported.
    blocked = "import sys; sys.modules['ray'] = None; from shadowserve.cli.main import main; main()"
    serve = [sys.executable, "-c", blocked, "serve", "--data-dir", str(tmp_path), "--port", "0",
             "--runtime", "ray"]  # fmt: skip
    without_address = subprocess.run(serve, capture_output=True, text=True, timeout=60,
                                     check=False)  # fmt: skip
    assert without_address.returncode == 2
    assert "--runtime ray needs --ray-address" in without_address.stderr
    found = subprocess.run([*serve, "--ray-address", "127.0.0.1:9"], capture_output=True,
                           text=True, timeout=60, check=False)  # fmt: skip
    assert found.returncode == 1
    assert "--runtime ray needs Ray (ray is not installed): pip install 'shadowserve[ray]'" in (
        found.stderr
    )
    assert "Traceback" not in found.stderr
