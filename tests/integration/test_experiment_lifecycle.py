"""The inference-experiment lifecycle through boto3 against a real server: one end-to-end
test per family (start, schedule, update, each stop outcome, refused moves, validation). The
rules themselves are tested on the in-memory fakes in tests/unit/test_experiment_rules.py and
tests/unit/test_schedule_with_fake_clock.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.builders import ShadowSetup, model_variant


@pytest.fixture
def setup(sagemaker: Any, unique: Any) -> ShadowSetup:
    return ShadowSetup(sagemaker, unique("ie"))


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def test_create_without_schedule_starts_now_for_seven_days(setup: ShadowSetup) -> None:
    arn = setup.create()
    assert (
        arn == f"arn:aws:sagemaker:us-east-1:123456789012:inference-experiment/{setup.experiment}"
    )
    running = setup.wait_for("Running")
    assert setup.history[0] in ("Creating", "Starting")
    assert setup.history[-1] == "Running"
    schedule = running["Schedule"]
    assert schedule["EndTime"] - schedule["StartTime"] == timedelta(days=7)
    assert running["Type"] == "ShadowMode"
    assert running["EndpointMetadata"]["EndpointName"] == setup.endpoint
    assert running["EndpointMetadata"]["EndpointStatus"] == "InService"
    assert [v["Status"] for v in running["ModelVariants"]] == ["InService", "InService"]
    assert running["ShadowModeConfig"]["ShadowModelVariants"][0]["SamplingPercentage"] == 50


def test_running_experiment_deploys_the_shadow_on_the_endpoint(setup: ShadowSetup) -> None:
    before = setup.sagemaker.describe_endpoint(EndpointName=setup.endpoint)
    assert "ShadowProductionVariants" not in before
    setup.create()
    running = setup.wait_for("Running")
    endpoint = setup.sagemaker.describe_endpoint(EndpointName=setup.endpoint)
    config_name = running["EndpointMetadata"]["EndpointConfigName"]
    assert endpoint["EndpointConfigName"] == config_name != before["EndpointConfigName"]
    assert [v["VariantName"] for v in endpoint["ShadowProductionVariants"]] == ["shadow"]
    assert [v["VariantName"] for v in endpoint["ProductionVariants"]] == ["AllTraffic"]
    config = setup.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    assert config["ShadowProductionVariants"][0]["ModelName"] == setup.shadow_model


def test_future_start_waits_in_created_then_start_pulls_it_to_now(setup: ShadowSetup) -> None:
    start = datetime.now(UTC) + timedelta(days=1)
    end = start + timedelta(days=29, hours=23)
    setup.create(Schedule={"StartTime": start, "EndTime": end})
    created = setup.wait_for("Created")
    assert created["ModelVariants"][1]["Status"] == "Creating"
    assert created["EndpointMetadata"]["EndpointConfigName"] == f"{setup.endpoint}-config"
    setup.sagemaker.start_inference_experiment(Name=setup.experiment)
    running = setup.wait_for("Running")
    new_start = running["Schedule"]["StartTime"]
    assert abs((new_start - datetime.now(UTC)).total_seconds()) < 30
    # The end moved in so that the experiment lasts at most 30 days from the new start.
    assert running["Schedule"]["EndTime"] - new_start <= timedelta(days=30)
    assert running["Schedule"]["EndTime"] < end


def test_scheduled_start_fires_on_its_own(setup: ShadowSetup) -> None:
    start = datetime.now(UTC) + timedelta(seconds=2)
    setup.create(Schedule={"StartTime": start, "EndTime": start + timedelta(days=1)})
    setup.wait_for("Created")
    setup.wait_for("Running", timeout=15)


def test_scheduled_end_completes_and_reverts_the_endpoint(setup: ShadowSetup) -> None:
    now = datetime.now(UTC)
    setup.create(Schedule={"StartTime": now, "EndTime": now + timedelta(seconds=4)})
    setup.wait_for("Running")
    done = setup.wait_for("Completed", timeout=20)
    assert "CompletionTime" in done
    assert [v["Status"] for v in done["ModelVariants"]] == ["InService", "Deleted"]
    endpoint = setup.sagemaker.describe_endpoint(EndpointName=setup.endpoint)
    assert endpoint["EndpointConfigName"] == f"{setup.endpoint}-config"
    assert "ShadowProductionVariants" not in endpoint


def test_stop_with_promote_makes_the_shadow_the_production_variant(setup: ShadowSetup) -> None:
    setup.create()
    setup.wait_for("Running")
    setup.sagemaker.stop_inference_experiment(
        Name=setup.experiment,
        ModelVariantActions={"AllTraffic": "Remove", "shadow": "Promote"},
        DesiredModelVariants=[model_variant(setup.shadow_model, "shadow", count=3)],
        Reason="candidate wins",
    )
    stopping = setup.describe()
    assert stopping["Status"] in ("Stopping", "Completed")
    done = setup.wait_for("Completed")
    assert done["StatusReason"] == "candidate wins"
    assert "CompletionTime" in done
    assert {v["VariantName"]: v["Status"] for v in done["ModelVariants"]} == {
        "AllTraffic": "Deleted",
        "shadow": "InService",
    }
    endpoint = setup.sagemaker.describe_endpoint(EndpointName=setup.endpoint)
    (variant,) = endpoint["ProductionVariants"]
    assert variant["VariantName"] == "shadow"
    assert variant["CurrentInstanceCount"] == 3
    assert "ShadowProductionVariants" not in endpoint
    config = setup.sagemaker.describe_endpoint_config(
        EndpointConfigName=endpoint["EndpointConfigName"]
    )
    assert config["ProductionVariants"][0]["ModelName"] == setup.shadow_model


def test_stop_with_remove_and_cancelled_restores_the_endpoint(setup: ShadowSetup) -> None:
    setup.create()
    setup.wait_for("Running")
    setup.sagemaker.stop_inference_experiment(
        Name=setup.experiment,
        ModelVariantActions={"AllTraffic": "Retain", "shadow": "Remove"},
        DesiredState="Cancelled",
        Reason="shadow too slow",
    )
    done = setup.wait_for("Cancelled")
    assert done["StatusReason"] == "shadow too slow"
    assert [v["Status"] for v in done["ModelVariants"]] == ["InService", "Deleted"]
    endpoint = setup.sagemaker.describe_endpoint(EndpointName=setup.endpoint)
    assert endpoint["EndpointConfigName"] == f"{setup.endpoint}-config"
    assert "ShadowProductionVariants" not in endpoint


def test_stop_with_retain_keeps_the_shadow_on_the_endpoint(setup: ShadowSetup) -> None:
    setup.create()
    setup.wait_for("Running")
    setup.sagemaker.stop_inference_experiment(
        Name=setup.experiment, ModelVariantActions={"AllTraffic": "Retain", "shadow": "Retain"}
    )
    done = setup.wait_for("Completed")
    assert [v["Status"] for v in done["ModelVariants"]] == ["InService", "InService"]
    endpoint = setup.sagemaker.describe_endpoint(EndpointName=setup.endpoint)
    assert [v["VariantName"] for v in endpoint["ShadowProductionVariants"]] == ["shadow"]


def test_update_in_running_changes_sampling_and_end_only(setup: ShadowSetup) -> None:
    setup.create()
    running = setup.wait_for("Running")
    new_end = running["Schedule"]["EndTime"] + timedelta(days=1)
    setup.sagemaker.update_inference_experiment(
        Name=setup.experiment,
        Description="wider sample",
        Schedule={"EndTime": new_end},
        ShadowModeConfig={
            "SourceModelVariantName": "AllTraffic",
            "ShadowModelVariants": [{"ShadowModelVariantName": "shadow", "SamplingPercentage": 90}],
        },
    )
    assert setup.describe()["Status"] in ("Updating", "Running")
    updated = setup.wait_for("Running")
    assert updated["Description"] == "wider sample"
    # botocore sends whole seconds.
    assert updated["Schedule"]["EndTime"] == new_end.replace(microsecond=0)
    assert updated["ShadowModeConfig"]["ShadowModelVariants"][0]["SamplingPercentage"] == 90
    for forbidden in (
        {"ModelVariants": setup.create_kwargs()["ModelVariants"]},
        {"DataStorageConfig": {"Destination": "s3://bucket/capture"}},
        {"Schedule": {"StartTime": datetime.now(UTC) + timedelta(days=2)}},
    ):
        with pytest.raises(ClientError) as excinfo:
            setup.sagemaker.update_inference_experiment(Name=setup.experiment, **forbidden)
        assert error_of(excinfo)[0] == "ValidationException", forbidden


def test_disallowed_moves_are_conflicts(setup: ShadowSetup) -> None:
    setup.create()
    setup.wait_for("Running")
    with pytest.raises(ClientError) as excinfo:
        setup.sagemaker.start_inference_experiment(Name=setup.experiment)
    assert error_of(excinfo)[0] == "ConflictException"
    with pytest.raises(ClientError) as excinfo:
        setup.sagemaker.delete_inference_experiment(Name=setup.experiment)
    code, message = error_of(excinfo)
    assert code == "ConflictException"
    assert "Running" in message
    setup.sagemaker.stop_inference_experiment(
        Name=setup.experiment, ModelVariantActions={"shadow": "Remove"}
    )
    setup.wait_for("Completed")
    for call in (
        lambda: setup.sagemaker.start_inference_experiment(Name=setup.experiment),
        lambda: setup.sagemaker.update_inference_experiment(Name=setup.experiment, Description="x"),
        lambda: setup.sagemaker.stop_inference_experiment(
            Name=setup.experiment, ModelVariantActions={"shadow": "Remove"}
        ),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[0] == "ConflictException"
    arn = setup.sagemaker.delete_inference_experiment(Name=setup.experiment)
    assert arn["InferenceExperimentArn"].endswith(setup.experiment)
    with pytest.raises(ClientError) as excinfo:
        setup.describe()
    assert error_of(excinfo)[0] == "ResourceNotFound"


def test_schedule_limits(setup: ShadowSetup) -> None:
    now = datetime.now(UTC)
    for schedule in (
        {"StartTime": now, "EndTime": now + timedelta(days=31)},
        {"StartTime": now + timedelta(days=2), "EndTime": now + timedelta(days=1)},
    ):
        with pytest.raises(ClientError) as excinfo:
            setup.create(Schedule=schedule)
        assert error_of(excinfo)[0] == "ValidationException"


def test_model_validation_messages(setup: ShadowSetup) -> None:
    with pytest.raises(ClientError) as excinfo:
        setup.create(
            Name="bad name!",
            Type="Foo",
            ShadowModeConfig={
                "SourceModelVariantName": "AllTraffic",
                "ShadowModelVariants": [
                    {"ShadowModelVariantName": "shadow", "SamplingPercentage": 500}
                ],
            },
        )
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert message.startswith("3 validation errors detected: ")
    assert (
        "Value 'bad name!' at 'name' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}"
    ) in message
    assert (
        "Value 'Foo' at 'type' failed to satisfy constraint: Member must satisfy enum value set: "
        "[ShadowMode]"
    ) in message
    assert (
        "Value '500' at 'shadowModeConfig.shadowModelVariants.1.member.samplingPercentage' "
        "failed to satisfy constraint: Member must have value less than or equal to 100"
    ) in message


@pytest.mark.parametrize(
    ("kind", "config", "variant"),
    [
        ("asynchronous", {"AsyncInferenceConfig": {"OutputConfig": {
            "S3OutputPath": "s3://bucket/async-out"}}}, {}),
        ("serverless", {}, {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}),
    ],
)  # fmt: skip
def test_experiments_on_async_or_serverless_endpoints_are_refused(
    sagemaker: Any, unique: Any, kind: str, config: dict[str, Any], variant: dict[str, Any]
) -> None:
    """SageMaker documents shadow tests for real-time endpoints only."""
    setup = ShadowSetup(sagemaker, unique("ie"))
    endpoint = unique("special")
    production = {"VariantName": "AllTraffic", "ModelName": setup.production_model}
    production |= variant or {"InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sagemaker.create_endpoint_config(EndpointConfigName=endpoint, ProductionVariants=[production],
                                     **config)  # fmt: skip
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName=endpoint, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_inference_experiment(**setup.create_kwargs(EndpointName=endpoint))
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert f"is {'an' if kind == 'asynchronous' else 'a'} {kind}" in message
    assert "real-time endpoints" in message
