"""The leader SIGKILLed while an experiment's start is due: another gateway takes the lead
within seconds, starts its own workers, and the schedule fires exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shadowserve.cli.server_process import ServerProcess
from tests.builders import model_variant
from tests.cluster.test_gateways import _answers, _leader_and_follower
from tests.conftest import FAST
from tests.dataplane_fixtures import Models
from tests.dataplane_support import wait_until, worker_pids
from tests.gateways import two_gateways


@pytest.fixture
def gateways(tmp_path: Path, s3_url: str) -> Iterator[list[ServerProcess]]:
    with two_gateways(
        tmp_path, lambda _name, _dir: [*FAST, "--s3-endpoint-url", s3_url]
    ) as servers:
        yield servers


def test_the_leader_killed_before_a_due_start_fires_it_exactly_once_elsewhere(
    gateways: list[ServerProcess], s3_url: str
) -> None:
    leader, follower = _leader_and_follower(gateways)
    models = Models(follower, s3_url)
    production, candidate = models.model(), models.model(environment={"SCALE": "2"})
    endpoint = models.endpoint(production)
    start = datetime.now(UTC) + timedelta(seconds=6)
    models.sagemaker.create_inference_experiment(
        Name="due", Type="ShadowMode", RoleArn="arn:aws:iam::123456789012:role/r",
        EndpointName=endpoint, Schedule={"StartTime": start},
        ModelVariants=[model_variant(production, "AllTraffic"),
                       model_variant(candidate, "shadow")],
        ShadowModeConfig={"SourceModelVariantName": "AllTraffic", "ShadowModelVariants": [
            {"ShadowModelVariantName": "shadow", "SamplingPercentage": 100}]},
    )  # fmt: skip
    killed = time.monotonic()
    leader.kill()
    wait_until(lambda: httpx.get(f"{follower.url}/healthz").json()["leads"], timeout=15)
    took_over = time.monotonic() - killed
    assert took_over < 15
    assert datetime.now(UTC) < start  # the lead changed hands before the start was due
    wait_until(
        lambda: models.sagemaker.describe_inference_experiment(Name="due")["Status"] == "Running",
        timeout=90,
    )
    # Exactly once: one experiment config written, the endpoint on it, one shadow pool.
    configs = models.sagemaker.list_endpoint_configs(NameContains=endpoint)["EndpointConfigs"]
    shadow_configs = [c["EndpointConfigName"] for c in configs
                      if c["EndpointConfigName"] != endpoint]  # fmt: skip
    assert len(shadow_configs) == 1, configs
    assert models.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"] == (
        shadow_configs[0])  # fmt: skip
    wait_until(lambda: _answers(follower, endpoint), timeout=30)
    wait_until(lambda: not worker_pids(leader.data_dir), timeout=30)  # the dead leader's
    assert len(worker_pids(follower.data_dir)) == 2  # production and shadow, once each
    print(f"takeover after SIGKILL: {took_over:.2f} s")
