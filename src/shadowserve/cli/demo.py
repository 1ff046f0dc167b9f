"""``shadowserve demo``: a scripted walk through a shadow test over the SageMaker API.

It starts a server, then, as a user would with boto3: creates two models, an endpoint,
an inference experiment that shadows the candidate, and stops it with a promotion.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import click

from shadowserve.cli.server_process import ServerProcess

ROLE = "arn:aws:iam::123456789012:role/demo"


def _variant(model: str, variant: str) -> dict[str, Any]:
    return {
        "ModelName": model,
        "VariantName": variant,
        "InfrastructureConfig": {
            "InfrastructureType": "RealTimeInference",
            "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        },
    }


def _wait_for(sagemaker: Any, name: str, wanted: str) -> dict[str, Any]:
    seen = None
    for _ in range(120):
        described: dict[str, Any] = sagemaker.describe_inference_experiment(Name=name)
        if described["Status"] != seen:
            seen = described["Status"]
            click.echo(f"    experiment status: {seen}")
        if seen == wanted:
            return described
        time.sleep(0.25)
    raise click.ClickException(f"experiment {name} never reached {wanted}")


def run_demo() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="shadowserve-demo-"))
    with ServerProcess(data_dir, extra_args=["--reconcile-interval", "0.2"]) as server:
        click.echo(f"shadowserve is listening on {server.url} (data in {data_dir})")
        sagemaker = boto3.client(
            "sagemaker",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="demo",
            aws_secret_access_key="demo",
        )
        _walk(sagemaker)
    click.echo("Server stopped cleanly.")


def _walk(sagemaker: Any) -> None:
    click.echo("1. Two models: the one in production and a candidate")
    for name in ("churn-v1", "churn-v2"):
        sagemaker.create_model(
            ModelName=name,
            PrimaryContainer={
                "Image": "shadowserve/python",
                "ModelDataUrl": f"s3://models/{name}.tar.gz",
            },
            ExecutionRoleArn=ROLE,
        )
    click.echo("2. An endpoint serving churn-v1")
    sagemaker.create_endpoint_config(
        EndpointConfigName="churn-config",
        ProductionVariants=[_production_variant()],
    )
    sagemaker.create_endpoint(EndpointName="churn", EndpointConfigName="churn-config")
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName="churn", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    click.echo("    endpoint churn is InService")
    click.echo("3. An inference experiment shadowing churn-v2 on 50% of traffic")
    sagemaker.create_inference_experiment(
        Name="churn-v2-shadow",
        Type="ShadowMode",
        RoleArn=ROLE,
        EndpointName="churn",
        ModelVariants=[_variant("churn-v1", "AllTraffic"), _variant("churn-v2", "candidate")],
        ShadowModeConfig={
            "SourceModelVariantName": "AllTraffic",
            "ShadowModelVariants": [
                {"ShadowModelVariantName": "candidate", "SamplingPercentage": 50}
            ],
        },
    )
    running = _wait_for(sagemaker, "churn-v2-shadow", "Running")
    click.echo(f"    endpoint now runs config {running['EndpointMetadata']['EndpointConfigName']}")
    endpoint = sagemaker.describe_endpoint(EndpointName="churn")
    shadows = [v["VariantName"] for v in endpoint.get("ShadowProductionVariants", [])]
    click.echo(f"    shadow variants on the endpoint: {shadows}")
    click.echo("4. Stop the experiment and promote the candidate")
    sagemaker.stop_inference_experiment(
        Name="churn-v2-shadow",
        ModelVariantActions={"AllTraffic": "Remove", "candidate": "Promote"},
        Reason="candidate is ready",
    )
    done = _wait_for(sagemaker, "churn-v2-shadow", "Completed")
    click.echo(f"    variants: {[(v['VariantName'], v['Status']) for v in done['ModelVariants']]}")
    endpoint = sagemaker.describe_endpoint(EndpointName="churn")
    production = [v["VariantName"] for v in endpoint["ProductionVariants"]]
    click.echo(f"    endpoint churn's production variants are now {production}")


def _production_variant() -> dict[str, Any]:
    return {
        "VariantName": "AllTraffic",
        "ModelName": "churn-v1",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
