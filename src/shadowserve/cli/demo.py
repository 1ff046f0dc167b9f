"""``shadowserve demo``: a scripted walk through a shadow test over the SageMaker API.

It starts a server, packages two small models as SageMaker model.tar.gz archives in the
local object store, then, as a user would with boto3: creates the models and an endpoint,
sends traffic, runs an inference experiment that mirrors it to the candidate, and stops the
experiment with a promotion. (The full demo with trained models comes with the demo issue.)
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import click

from shadowserve.cli.server_process import ServerProcess

ROLE = "arn:aws:iam::123456789012:role/demo"

# Two toy churn models: the candidate also weighs how recently the customer was active.
MODEL_CODE = {
    "churn-v1": "def model_fn(model_dir):\n"
    "    return lambda rows: [int(r['complaints'] > 2) for r in rows]\n",
    "churn-v2": "def model_fn(model_dir):\n"
    "    return lambda rows: [int(r['complaints'] > 2 or r['idle_days'] > 60) for r in rows]\n",
}


def _package(data_dir: Path, name: str) -> str:
    """Write model.tar.gz (code/inference.py) where s3://models/<name>/ resolves locally."""
    code = MODEL_CODE[name].encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(code)
        tar.addfile(info, io.BytesIO(code))
    target = data_dir / "objects" / "models" / name / "model.tar.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buffer.getvalue())
    return f"s3://models/{name}/model.tar.gz"


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
        runtime = boto3.client(
            "sagemaker-runtime",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="demo",
            aws_secret_access_key="demo",
        )
        _walk(sagemaker, runtime, data_dir, server.url)
    click.echo("Server stopped cleanly.")


def _traffic(runtime: Any, count: int) -> list[Any]:
    answers = []
    for index in range(count):
        row = {"complaints": index % 5, "idle_days": (index * 17) % 90}
        response = runtime.invoke_endpoint(
            EndpointName="churn", Body=json.dumps([row]), ContentType="application/json"
        )
        answers.append((response["InvokedProductionVariant"], json.loads(response["Body"].read())))
    return answers


def _shadow_copies(url: str) -> int:
    with urllib.request.urlopen(f"{url}/metrics") as response:
        text = response.read().decode()
    prefix = 'shadowserve_shadow_requests_total{endpoint="churn",outcome="succeeded"'
    return sum(
        int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines() if line.startswith(prefix)
    )


def _walk(sagemaker: Any, runtime: Any, data_dir: Path, url: str) -> None:
    click.echo("1. Two models packaged as model.tar.gz: the one in production and a candidate")
    for name in ("churn-v1", "churn-v2"):
        sagemaker.create_model(
            ModelName=name,
            PrimaryContainer={
                "Image": "shadowserve/python",
                "ModelDataUrl": _package(data_dir, name),
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
    answers = _traffic(runtime, 5)
    click.echo(f"    5 requests answered by {sorted({variant for variant, _ in answers})}")
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
    answers = _traffic(runtime, 40)
    time.sleep(1)
    click.echo(
        f"    40 requests answered by {sorted({variant for variant, _ in answers})}; "
        f"about half were copied to the candidate: {_shadow_copies(url)} shadow answers"
    )
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
    answers = _traffic(runtime, 3)
    click.echo(f"    and it answers from {sorted({variant for variant, _ in answers})}")


def _production_variant() -> dict[str, Any]:
    return {
        "VariantName": "AllTraffic",
        "ModelName": "churn-v1",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
