"""Amazon Resource Names for SageMaker resources."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ResourceKind(StrEnum):
    """The SageMaker resource types shadowserve stores; the value is the ARN resource type."""

    MODEL = "model"
    ENDPOINT_CONFIG = "endpoint-config"
    ENDPOINT = "endpoint"
    INFERENCE_EXPERIMENT = "inference-experiment"


@dataclass(frozen=True)
class Scope:
    """Where a resource lives: resources of one account and region are invisible to others."""

    account: str
    region: str


def resource_arn(scope: Scope, kind: ResourceKind, name: str) -> str:
    # SageMaker lowercases names in ARNs (seen for endpoints); we do it for every kind so that
    # an ARN always identifies the resource regardless of the case the name was given in.
    return f"arn:aws:sagemaker:{scope.region}:{scope.account}:{kind.value}/{name.lower()}"


@dataclass(frozen=True)
class ParsedArn:
    scope: Scope
    kind: ResourceKind
    name_key: str


def parse_arn(arn: str) -> ParsedArn | None:
    """Split a SageMaker ARN; None when it is not one of the kinds we store."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sagemaker":
        return None
    kind_text, _, name = parts[5].partition("/")
    try:
        kind = ResourceKind(kind_text)
    except ValueError:
        return None
    if not name:
        return None
    return ParsedArn(Scope(account=parts[4], region=parts[3]), kind, name.lower())


def endpoint_log_group(endpoint_name: str) -> str:
    """The CloudWatch log group of an endpoint's containers, as SageMaker names it."""
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def log_group_arn(scope: Scope, group: str) -> str:
    return f"arn:aws:logs:{scope.region}:{scope.account}:log-group:{group}"
