"""The endpoint configs an experiment leaves behind, for each combination of actions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shadowserve.domain.errors import InvalidInput
from shadowserve.domain.experiment import InferenceExperiment, StopRequest
from shadowserve.domain.experiment_configs import (
    check_stop_request,
    outcome_config,
    shadow_variants,
)
from shadowserve.domain.resources import EndpointConfig

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _variant(model: str, name: str, count: int = 1, kind: str = "ml.m5.large") -> dict:  # type: ignore[type-arg]
    return {
        "ModelName": model,
        "VariantName": name,
        "InfrastructureConfig": {
            "InfrastructureType": "RealTimeInference",
            "RealTimeInferenceConfig": {"InstanceType": kind, "InstanceCount": count},
        },
    }


EXPERIMENT = InferenceExperiment.model_validate(
    {
        "Name": "e",
        "Arn": "arn",
        "Type": "ShadowMode",
        "Status": "Running",
        "EndpointName": "ep",
        "ModelVariants": [_variant("prod", "A"), _variant("cand", "S", count=2)],
        "ShadowModeConfig": {
            "SourceModelVariantName": "A",
            "ShadowModelVariants": [{"ShadowModelVariantName": "S", "SamplingPercentage": 10}],
        },
        "Schedule": {},
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
        "DataStorageConfig": {
            "Destination": "s3://b/p",
            "KmsKey": "k",
            "ContentType": {"CsvContentTypes": ["text/csv"]},
        },
    }
)
PRIOR = EndpointConfig.model_validate(
    {
        "EndpointConfigName": "cfg",
        "EndpointConfigArn": "arn",
        "CreationTime": NOW,
        "ProductionVariants": [
            {
                "VariantName": "A",
                "ModelName": "prod",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.c5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
    }
)


def _stop(actions: dict, desired: list | None = None) -> StopRequest:  # type: ignore[type-arg]
    return StopRequest.model_validate({"actions": actions, "desired_model_variants": desired})


def test_shadow_config_adds_the_shadow_and_capture() -> None:
    config = shadow_variants(PRIOR, EXPERIMENT)
    assert [v.variant_name for v in config.production_variants] == ["A"]
    assert config.production_variants[0].instance_type == "ml.m5.large"
    (shadow,) = config.shadow_production_variants or []
    assert (shadow.model_name, shadow.initial_instance_count) == ("cand", 2)
    capture = config.data_capture_config
    assert capture is not None
    assert (capture.destination_s3_uri, capture.initial_sampling_percentage) == ("s3://b/p", 100)
    assert [o.capture_mode for o in capture.capture_options] == ["Input", "Output"]


def test_remove_shadow_reverts_to_the_prior_config() -> None:
    assert outcome_config(EXPERIMENT, _stop({"A": "Retain", "S": "Remove"}), PRIOR) is None
    assert outcome_config(EXPERIMENT, _stop({}), PRIOR) is None


def test_promote_replaces_production_sized_as_desired() -> None:
    stop = _stop({"A": "Remove", "S": "Promote"}, [_variant("cand", "S", count=5)])
    config = outcome_config(EXPERIMENT, stop, PRIOR)
    assert config is not None
    (only,) = config.production_variants
    assert (only.variant_name, only.model_name, only.initial_instance_count) == ("S", "cand", 5)
    assert not config.shadow_production_variants


def test_promote_without_desired_uses_the_shadow_settings() -> None:
    config = outcome_config(EXPERIMENT, _stop({"A": "Remove", "S": "Promote"}), PRIOR)
    assert config is not None
    assert config.production_variants[0].initial_instance_count == 2


def test_retain_shadow_keeps_it_as_a_shadow() -> None:
    config = outcome_config(EXPERIMENT, _stop({"A": "Retain", "S": "Retain"}), PRIOR)
    assert config is not None
    assert [v.variant_name for v in config.shadow_production_variants or []] == ["S"]
    assert config.production_variants[0].instance_type == "ml.c5.large"


@pytest.mark.parametrize(
    "actions",
    [{"A": "Promote"}, {"A": "Retain", "S": "Promote"}, {"A": "Remove"}, {"Z": "Retain"}],
)
def test_impossible_actions(actions: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput):
        check_stop_request(EXPERIMENT, _stop(actions))


# AWS's shadow-test example names, as the experiment's production model, a model other than
# the one the endpoint served: it serves while the experiment runs, and after it the stop
# request decides (docs/decisions.md).
SWAPPED = EXPERIMENT.model_copy(deep=True)
SWAPPED.model_variants[0].model_name = "newer-prod"


def test_the_experiments_production_model_serves_while_it_runs() -> None:
    (serving,) = shadow_variants(PRIOR, SWAPPED).production_variants
    assert (serving.variant_name, serving.model_name) == ("A", "newer-prod")


def test_completed_keeps_the_experiments_production_model() -> None:
    for stop in (_stop({"A": "Retain", "S": "Remove"}), _stop({})):
        config = outcome_config(SWAPPED, stop, PRIOR)
        assert config is not None
        (kept,) = config.production_variants
        assert (kept.model_name, kept.instance_type) == ("newer-prod", "ml.c5.large")
        assert not config.shadow_production_variants


def test_cancelled_restores_the_model_from_before() -> None:
    stop = StopRequest.model_validate({"actions": {}, "desired_state": "Cancelled"})
    assert outcome_config(SWAPPED, stop, PRIOR) is None  # the prior config, as it was


def test_desired_model_variants_name_the_model_after() -> None:
    stop = _stop({"A": "Retain"}, [_variant("third", "A", count=3)])
    config = outcome_config(SWAPPED, stop, PRIOR)
    assert config is not None
    (kept,) = config.production_variants
    assert (kept.model_name, kept.initial_instance_count) == ("third", 3)
