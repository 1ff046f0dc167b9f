"""What an instance reserves on a cluster: SageMaker instance types to CPUs, memory and
GPUs, the per-model override, and the GPUs handed to the model server."""

from __future__ import annotations

import pytest

from shadowserve.domain.resources import ProductionVariant
from shadowserve.workers.instance_types import (
    GIB,
    OVERRIDE_VARIABLE,
    InstanceResources,
    InstanceTypeError,
    resources_for,
    table_entry,
)
from shadowserve.workers.ray_node import gpu_environment


def _variant(instance_type: str | None = "ml.m5.large", **extra: object) -> ProductionVariant:
    return ProductionVariant(variant_name="v", model_name="m", instance_type=instance_type,
                             **extra)  # type: ignore[arg-type]  # fmt: skip


@pytest.mark.parametrize(
    ("instance_type", "cpus", "gib", "gpus"),
    [
        ("ml.m5.large", 2, 8, 0),
        ("ml.m5.xlarge", 4, 16, 0),
        ("ml.c5.2xlarge", 8, 16, 0),
        ("ml.r5.4xlarge", 16, 128, 0),
        ("ml.t2.medium", 2, 4, 0),
        ("ml.g5.xlarge", 4, 16, 1),
        ("ml.g5.12xlarge", 48, 192, 4),
        ("ml.g4dn.xlarge", 4, 16, 1),
        ("ml.p4d.24xlarge", 96, 1152, 8),
    ],
)
def test_the_table_gives_each_instance_type_its_own_figures(
    instance_type: str, cpus: int, gib: int, gpus: int
) -> None:
    assert table_entry(instance_type) == InstanceResources(cpus, gib * GIB, gpus)


def test_unknown_types_are_not_guessed() -> None:
    assert table_entry("ml.m5.huge") is None
    assert table_entry("m5.large") is None
    with pytest.raises(InstanceTypeError, match=f"not in shadowserve's table.*{OVERRIDE_VARIABLE}"):
        resources_for(_variant("ml.x9.large"), {})


def test_the_model_overrides_any_subset_of_the_figures() -> None:
    gpu = _variant("ml.g5.xlarge")
    assert resources_for(gpu, {OVERRIDE_VARIABLE: '{"gpus": 0}'}) == InstanceResources(
        4, 16 * GIB, 0
    )
    assert resources_for(gpu, {OVERRIDE_VARIABLE: '{"cpus": 0.5, "memory_gib": 1.5}'}) == (
        InstanceResources(0.5, int(1.5 * GIB), 1)
    )
    # An instance type the table does not know runs with the override alone.
    unknown = resources_for(_variant("ml.x9.large"), {OVERRIDE_VARIABLE: '{"cpus": 3}'})
    assert unknown.cpus == 3


@pytest.mark.parametrize("text", ["[1]", '{"cpu": 1}', '{"gpus": -1}', '{"cpus": "many"}', "{"])
def test_a_bad_override_is_the_failure_reason(text: str) -> None:
    with pytest.raises(InstanceTypeError, match=f"{OVERRIDE_VARIABLE} must be a JSON object"):
        resources_for(_variant(), {OVERRIDE_VARIABLE: text})


def test_a_serverless_variant_reserves_its_memory_and_one_cpu() -> None:
    serverless = _variant(None, serverless_config={"MemorySizeInMB": 4096, "MaxConcurrency": 5})
    assert resources_for(serverless, {}) == InstanceResources(1, 4 * GIB, 0)


def test_the_gpus_ray_gives_an_instance_reach_its_model_server() -> None:
    assert gpu_environment([]) == {}
    assert gpu_environment([0]) == {"CUDA_VISIBLE_DEVICES": "0"}
    assert gpu_environment(["2", "3"]) == {"CUDA_VISIBLE_DEVICES": "2,3"}
    assert InstanceResources(4, 16 * GIB, 1).describe() == "4 CPUs, 16 GiB memory, 1 GPU"
