"""The inference-experiment rules, on the in-memory fakes (tests/unit/fake_world.py): which
stops, updates and moves are allowed in which status, what a stop leaves on the endpoint,
and which references must hold. The wire (AWS codes, boto3) is tested end to end, one test
per family, in tests/integration/test_experiment_lifecycle.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shadowserve.domain.errors import Conflict, InvalidInput, ResourceInUse, ResourceNotFound
from shadowserve.domain.experiment import ExperimentStatus as S
from shadowserve.domain.experiment import VariantStatus
from shadowserve.services import experiments
from tests.unit.fake_world import NAME, SCOPE, T0, World, shadow_mode, variant


@pytest.fixture
def world() -> World:
    return World.make()


@pytest.fixture
def running(world: World) -> World:
    world.create()
    world.settle()
    assert world.status() == S.RUNNING
    return world


@pytest.mark.parametrize(
    "actions",
    [
        {"AllTraffic": "Retain", "shadow": "Promote"},
        {"AllTraffic": "Remove", "shadow": "Remove"},
        {"AllTraffic": "Promote"},
        {"nope": "Remove"},
    ],
)
def test_impossible_stop_actions_are_refused(running: World, actions: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        running.stop(actions)
    assert running.status() == S.RUNNING


def test_a_running_experiment_may_change_sampling_end_and_description_only(
    running: World,
) -> None:
    end = running.experiment().schedule.end_time
    assert end is not None
    running.update(Description="wider sample", Schedule={"EndTime": end + timedelta(days=1)},
                   ShadowModeConfig=shadow_mode(sampling=90))  # fmt: skip
    running.settle()
    updated = running.experiment()
    assert updated.status == S.RUNNING
    assert updated.description == "wider sample"
    assert updated.schedule.end_time == end + timedelta(days=1)
    assert updated.sampling_percentage() == 90
    for forbidden in (
        {"ModelVariants": [variant("prod", "AllTraffic"), variant("cand", "shadow")]},
        {"DataStorageConfig": {"Destination": "s3://bucket/capture"}},
        {"Schedule": {"StartTime": T0 + timedelta(days=2)}},
    ):
        with pytest.raises(InvalidInput):
            running.update(**forbidden)


def test_a_created_experiment_may_change_variants_schedule_and_capture(world: World) -> None:
    start = T0 + timedelta(days=1)
    world.create(Schedule={"StartTime": start, "EndTime": start + timedelta(days=2)})
    world.settle()
    assert world.status() == S.CREATED
    later = start + timedelta(days=1)
    world.update(
        Schedule={"StartTime": later, "EndTime": later + timedelta(days=3)},
        ModelVariants=[variant("prod", "AllTraffic"), variant("cand", "shadow", count=2)],
        DataStorageConfig={"Destination": "s3://bucket/capture", "KmsKey": "key-1"},
    )
    world.settle()
    updated = world.experiment()
    assert updated.status == S.CREATED
    assert updated.schedule.start_time == later
    assert updated.shadow_variant().instance_count() == 2
    assert updated.data_storage_config is not None
    assert updated.data_storage_config.destination == "s3://bucket/capture"


def test_moves_the_status_does_not_allow_are_conflicts(running: World) -> None:
    plane = running.plane
    with pytest.raises(Conflict):
        experiments.start_inference_experiment(plane, SCOPE, NAME)
    with pytest.raises(Conflict, match="Running"):
        experiments.delete_inference_experiment(plane, SCOPE, NAME)
    running.stop({"shadow": "Remove"})
    running.settle()
    assert running.status() == S.COMPLETED
    for call in (
        lambda: experiments.start_inference_experiment(plane, SCOPE, NAME),
        lambda: running.update(Description="x"),
        lambda: running.stop({"shadow": "Remove"}),
    ):
        with pytest.raises(Conflict):
            call()
    experiments.delete_inference_experiment(plane, SCOPE, NAME)
    with pytest.raises(ResourceNotFound):
        running.experiment()


def test_stopping_a_created_experiment_cancels_it_and_leaves_the_endpoint(world: World) -> None:
    start = T0 + timedelta(days=1)
    world.create(Schedule={"StartTime": start, "EndTime": start + timedelta(days=1)})
    world.settle()
    world.stop({"shadow": "Remove"}, DesiredState="Cancelled")
    done = world.experiment()
    assert done.status == S.CANCELLED
    assert done.shadow_variant().status == VariantStatus.DELETED
    world.settle()
    assert world.endpoint_config() == "cfg"


def test_one_active_experiment_per_endpoint_and_names_are_unique(running: World) -> None:
    with pytest.raises(ResourceInUse, match="already exists"):
        running.create()
    with pytest.raises(ResourceInUse, match="active inference experiment exp"):
        running.create(Name="second")


@pytest.mark.parametrize(
    "override",
    [
        {"EndpointName": "nowhere"},
        {"ModelVariants": [variant("prod", "Other"), variant("cand", "shadow")],
         "ShadowModeConfig": {"SourceModelVariantName": "Other", "ShadowModelVariants": [
             {"ShadowModelVariantName": "shadow", "SamplingPercentage": 5}]}},
        {"ShadowModeConfig": shadow_mode(shadow="ghost")},
        {"ModelVariants": [variant("prod", "AllTraffic"), variant("no-model", "shadow")]},
        {"ModelVariants": [variant("no-model", "AllTraffic"), variant("cand", "shadow")]},
    ],
)  # fmt: skip
def test_references_that_do_not_hold_are_refused(world: World, override: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):  # AWS: ValidationException (protocol/errors.py)
        world.create(**override)
    with pytest.raises(ResourceNotFound):
        world.experiment()
