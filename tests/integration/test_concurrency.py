"""Concurrent conflicting calls: one wins, every other gets a clear error, nothing is lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from tests.builders import ShadowSetup
from tests.conftest import client


def test_fifty_concurrent_stops_one_wins(server: Any, unique: Any) -> None:
    setup = ShadowSetup(client(server.url), unique("race"))
    setup.create()
    setup.wait_for("Running")

    def stop(index: int) -> str:
        sagemaker = client(server.url)
        try:
            sagemaker.stop_inference_experiment(
                Name=setup.experiment,
                ModelVariantActions={"shadow": "Remove"},
                Reason=f"stopper {index}",
            )
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "won"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(stop, range(50)))
    assert outcomes.count("won") == 1
    assert outcomes.count("ConflictException") == 49
    winner = outcomes.index("won")
    done = setup.wait_for("Completed")
    assert done["StatusReason"] == f"stopper {winner}"


def test_concurrent_tag_writes_are_all_kept(server: Any, unique: Any) -> None:
    sagemaker = client(server.url)
    name = unique("tags")
    arn = sagemaker.create_model(ModelName=name, PrimaryContainer={"Image": "x"})["ModelArn"]

    def tag(index: int) -> None:
        client(server.url).add_tags(ResourceArn=arn, Tags=[{"Key": f"k{index}", "Value": "v"}])

    with ThreadPoolExecutor(max_workers=25) as pool:
        list(pool.map(tag, range(40)))
    assert len(sagemaker.list_tags(ResourceArn=arn, MaxResults=50)["Tags"]) == 40
