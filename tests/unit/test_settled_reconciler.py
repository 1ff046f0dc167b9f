"""A reconciler that found everything settled does nothing more until the store changes, a
schedule comes due or the lead changes hands; then it picks up at once (#16: a full pass
over unchanged endpoints cost ~5 ms of the GIL every second)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from shadowserve.domain.experiment import ExperimentStatus as S
from shadowserve.domain.redaction import REDACT_TAG
from shadowserve.services import endpoints, experiments, tags
from shadowserve.services.reconciler import Reconciler
from shadowserve.services.runtime import Deployment, DeployResult, RecordingRuntime
from tests.unit.fake_world import NAME, SCOPE, T0, World


class CountingRuntime(RecordingRuntime):
    def __init__(self) -> None:
        super().__init__()
        self.deploys = 0

    def deploy(self, deployment: Deployment) -> DeployResult:
        self.deploys += 1
        return super().deploy(deployment)


def counted_world(epoch: list[int] | None = None) -> tuple[World, CountingRuntime]:
    world = World.make()
    runtime = CountingRuntime()
    world.plane = replace(world.plane, runtime=runtime)
    numbers = epoch if epoch is not None else [0]
    world.reconciler = Reconciler(world.plane, interval=0, epoch=lambda: numbers[0])
    world.settle()
    return world, runtime


def deploys_over(world: World, runtime: CountingRuntime, passes: int = 3) -> int:
    before = runtime.deploys
    world.settle(passes)
    return runtime.deploys - before


def test_an_unchanged_endpoint_is_not_deployed_again() -> None:
    world, runtime = counted_world()
    assert deploys_over(world, runtime) == 0


def test_a_write_to_the_endpoint_is_deployed_at_the_next_pass() -> None:
    world, runtime = counted_world()
    endpoints.update_endpoint_weights_and_capacities(
        world.plane, SCOPE, "ep",
        [endpoints.DesiredWeightAndCapacity(variant_name="AllTraffic", desired_instance_count=2)],
    )  # fmt: skip
    world.reconciler.run_once()
    key = (SCOPE, "ep")
    deployed = runtime.deployed[key]
    assert deployed.config.production_variants[0].initial_instance_count == 2
    world.settle()
    assert deploys_over(world, runtime) == 0  # settled again


def test_a_running_experiment_with_no_end_stays_quiet_and_its_redaction_tag_is_seen() -> None:
    world, runtime = counted_world()
    world.create()
    world.settle()
    assert world.status() == S.RUNNING
    assert deploys_over(world, runtime) == 0
    tags.add_tags(world.plane, SCOPE, world.experiment().arn,
                  [tags.Tag(key=REDACT_TAG, value="user_id")])  # fmt: skip
    world.reconciler.run_once()
    deployed = runtime.deployed[(SCOPE, "ep")]
    assert deployed.shadow_redaction == frozenset({"user_id"})


def test_a_schedule_fires_when_due_although_nothing_was_written() -> None:
    world, runtime = counted_world()
    world.create(Schedule={"StartTime": T0 + timedelta(hours=1),
                           "EndTime": T0 + timedelta(hours=2)})  # fmt: skip
    world.settle()
    assert world.status() == S.CREATED and deploys_over(world, runtime) == 0
    world.clock.advance(timedelta(hours=1))
    world.settle()
    assert world.status() == S.RUNNING and deploys_over(world, runtime) == 0
    world.clock.advance(timedelta(hours=1))
    world.settle(10)
    assert world.status() == S.COMPLETED
    described = experiments.describe_inference_experiment(world.plane, SCOPE, NAME)
    assert described.experiment.completion_time is not None


def test_a_new_lead_deploys_everything_again() -> None:
    epoch = [1]
    world, runtime = counted_world(epoch)
    runtime.deployed.clear()  # the lead was lost: the runtime let go of everything
    epoch[0] = 2
    world.reconciler.run_once()
    assert (SCOPE, "ep") in runtime.deployed
