"""What one instance of a variant needs from a cluster: CPUs, memory and GPUs by SageMaker
instance type, overridable per model.

The figures are the instance types' own (vCPUs, GiB, NVIDIA GPUs) as AWS lists them; a
cluster runtime reserves them for each instance so that a node holds no more instances than
the machines SageMaker would have used. A model's container environment may set
``SHADOWSERVE_INSTANCE_RESOURCES`` to a JSON object (``{"cpus": 1, "memory_gib": 2,
"gpus": 0}``, any subset) to ask for other figures: a small model on a big instance type,
or an instance type this table does not know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from shadowserve.domain.resources import ProductionVariant

OVERRIDE_VARIABLE = "SHADOWSERVE_INSTANCE_RESOURCES"
GIB = 1024**3

# vCPUs by size; memory is vCPUs times the family's GiB per vCPU.
_SIZES = {
    "large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "9xlarge": 36,
    "12xlarge": 48, "16xlarge": 64, "18xlarge": 72, "24xlarge": 96,
}  # fmt: skip
_GIB_PER_VCPU = {
    **dict.fromkeys(["m4", "m5", "m5d", "m6i", "m6g", "m7i", "m7g", "t3"], 4),
    **dict.fromkeys(["c4", "c5", "c5d", "c6i", "c6g", "c7i", "c7g"], 2),
    **dict.fromkeys(["r5", "r5d", "r6i", "r6g", "r7i"], 8),
}
# GPU instance types: (vCPUs, GiB, GPUs).
_GPU_TYPES = {
    "ml.g4dn.xlarge": (4, 16, 1), "ml.g4dn.2xlarge": (8, 32, 1), "ml.g4dn.4xlarge": (16, 64, 1),
    "ml.g4dn.8xlarge": (32, 128, 1), "ml.g4dn.12xlarge": (48, 192, 4),
    "ml.g4dn.16xlarge": (64, 256, 1),
    "ml.g5.xlarge": (4, 16, 1), "ml.g5.2xlarge": (8, 32, 1), "ml.g5.4xlarge": (16, 64, 1),
    "ml.g5.8xlarge": (32, 128, 1), "ml.g5.12xlarge": (48, 192, 4),
    "ml.g5.16xlarge": (64, 256, 1), "ml.g5.24xlarge": (96, 384, 4),
    "ml.g5.48xlarge": (192, 768, 8),
    "ml.g6.xlarge": (4, 16, 1), "ml.g6.2xlarge": (8, 32, 1), "ml.g6.4xlarge": (16, 64, 1),
    "ml.g6.12xlarge": (48, 192, 4), "ml.g6.48xlarge": (192, 768, 8),
    "ml.p3.2xlarge": (8, 61, 1), "ml.p3.8xlarge": (32, 244, 4), "ml.p3.16xlarge": (64, 488, 8),
    "ml.p4d.24xlarge": (96, 1152, 8), "ml.p5.48xlarge": (192, 2048, 8),
}  # fmt: skip
_SMALL_TYPES = {"ml.t2.medium": (2, 4, 0), "ml.t2.large": (2, 8, 0), "ml.t2.xlarge": (4, 16, 0),
                "ml.t2.2xlarge": (8, 32, 0), "ml.t3.medium": (2, 4, 0)}  # fmt: skip
# A serverless variant: its MemorySizeInMB, and one CPU (SageMaker does not say how many).
_SERVERLESS_CPUS = 1


class InstanceTypeError(ValueError):
    """The instance's resources cannot be worked out; the message is the FailureReason."""


@dataclass(frozen=True)
class InstanceResources:
    cpus: float
    memory_bytes: int
    gpus: float = 0.0

    def describe(self) -> str:
        gib = self.memory_bytes / GIB
        text = f"{_count(self.cpus, 'CPU')}, {gib:g} GiB memory"
        return text + (f", {_count(self.gpus, 'GPU')}" if self.gpus else "")


def _count(number: float, unit: str) -> str:
    return f"{number:g} {unit}" if number == 1 else f"{number:g} {unit}s"


def table_entry(instance_type: str) -> InstanceResources | None:
    """The table's figures for ``instance_type`` (``ml.g5.xlarge``), or None."""
    known = _GPU_TYPES.get(instance_type) or _SMALL_TYPES.get(instance_type)
    if known is None:
        parts = instance_type.split(".")
        if len(parts) != 3 or parts[0] != "ml":
            return None
        family, size = parts[1], parts[2]
        if family not in _GIB_PER_VCPU or size not in _SIZES:
            return None
        vcpus = _SIZES[size]
        known = (vcpus, vcpus * _GIB_PER_VCPU[family], 0)
    cpus, gib, gpus = known
    return InstanceResources(float(cpus), gib * GIB, float(gpus))


def resources_for(variant: ProductionVariant, environment: dict[str, str]) -> InstanceResources:
    """What one instance of ``variant`` reserves: the table's figures for its InstanceType
    (or its serverless memory), with the model's override applied."""
    base = _base(variant)
    override = environment.get(OVERRIDE_VARIABLE)
    if override is None:
        if base is None:
            raise InstanceTypeError(
                f"InstanceType {variant.instance_type} is not in shadowserve's table of "
                f"instance types; set {OVERRIDE_VARIABLE} on the model, e.g. "
                '{"cpus": 2, "memory_gib": 8, "gpus": 0}.'
            )
        return base
    return _overridden(base or InstanceResources(1.0, 2 * GIB), override)


def _base(variant: ProductionVariant) -> InstanceResources | None:
    if variant.serverless_config is not None:
        memory_mb = int(variant.serverless_config.get("MemorySizeInMB", 2048))
        return InstanceResources(float(_SERVERLESS_CPUS), memory_mb * 1024**2)
    return table_entry(variant.instance_type or "")


def _overridden(base: InstanceResources, text: str) -> InstanceResources:
    try:
        values = json.loads(text)
        if not isinstance(values, dict) or set(values) - {"cpus", "memory_gib", "gpus"}:
            raise ValueError("keys other than cpus, memory_gib and gpus")
        numbers = {key: float(value) for key, value in values.items()}
        if any(number < 0 for number in numbers.values()):
            raise ValueError("a negative figure")
    except (ValueError, TypeError) as exc:
        raise InstanceTypeError(
            f"{OVERRIDE_VARIABLE} must be a JSON object with cpus, memory_gib and gpus "
            f"(numbers, any subset): {exc}"
        ) from exc
    resources = base
    if "cpus" in numbers:
        resources = replace(resources, cpus=numbers["cpus"])
    if "memory_gib" in numbers:
        resources = replace(resources, memory_bytes=int(numbers["memory_gib"] * GIB))
    if "gpus" in numbers:
        resources = replace(resources, gpus=numbers["gpus"])
    return resources
