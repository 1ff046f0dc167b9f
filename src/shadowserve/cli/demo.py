"""``shadowserve demo``: a real shadow test from start to promotion, on the embedded defaults
(SQLite, local object store).

It starts a server; trains a production model and a stronger candidate; packages both as
SageMaker model.tar.gz archives in the object store; creates models, endpoint config and
endpoint with boto3; runs an inference experiment with data capture; replays the data set as
live traffic; prints the comparison report and the dashboard's address; stops the
experiment, promoting the candidate if the verdict says so; shows the endpoint answering from
the promoted model; and says where the captured files are.
"""

from __future__ import annotations

import random
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import boto3
import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shadowserve.cli.demo_models import DemoData, TrainedModel, load_data, train
from shadowserve.cli.report import fetch_report, print_report
from shadowserve.cli.server_process import ServerProcess, free_port

ROLE = "arn:aws:iam::123456789012:role/shadowserve-demo"
ENDPOINT, EXPERIMENT = "cancer-screening", "cancer-v2-shadow"
MODEL_BUCKET, CAPTURE = "demo-models", "s3://demo-capture/cancer-screening"
PASSES = 2  # the data set is replayed twice, in a shuffled order

console = Console(highlight=False)


def run_demo(data_dir: Path, port: int | None, keep_running: bool) -> None:
    if data_dir.exists():
        shutil.rmtree(data_dir)  # each demo starts from nothing
    port = port if port and _port_free(port) else free_port()
    args = ["--reconcile-interval", "0.25", "--capture-flush-seconds", "2"]
    server = ServerProcess(data_dir, port=port, extra_args=args).start()
    try:
        console.rule("[bold]shadowserve demo")
        console.print(f"Server on [bold]{server.url}[/] with its data in {data_dir}/")
        Demo(server, data_dir).run()
        if keep_running:
            console.print(f"\nThe server keeps running at {server.url} (Ctrl-C to stop it).")
            _wait_for_interrupt(server)
    finally:
        server.stop()
    console.print("Server stopped cleanly.")


class Demo:
    def __init__(self, server: ServerProcess, data_dir: Path) -> None:
        self.server = server
        self.data_dir = data_dir
        credentials = {
            "endpoint_url": server.url,
            "region_name": "us-east-1",
            "aws_access_key_id": "demo",
            "aws_secret_access_key": "demo",
        }
        self.sagemaker: Any = boto3.client("sagemaker", **credentials)
        self.runtime: Any = boto3.client("sagemaker-runtime", **credentials)

    def run(self) -> None:
        data = load_data()
        production, candidate = self._train(data)
        self._deploy(production, candidate)
        self._experiment()
        self._replay(data)
        report = self._report()
        promote = report["verdict"]["decision"] == "promote"
        self._stop(promote, production, candidate)
        self._show_capture()

    def _train(self, data: DemoData) -> tuple[TrainedModel, TrainedModel]:
        console.print("\n[bold]1. Train two models[/] on scikit-learn's breast-cancer data")
        production, candidate = train(data)
        for role, model in (("production", production), ("candidate", candidate)):
            console.print(
                f"   {role:10} {model.name}: {model.description}, "
                f"held-out accuracy {model.accuracy:.1%}"
            )
        return production, candidate

    def _deploy(self, production: TrainedModel, candidate: TrainedModel) -> None:
        console.print("\n[bold]2. Package, create and deploy[/] through the SageMaker API (boto3)")
        for model in (production, candidate):
            key = f"{model.name}/model.tar.gz"
            target = self.data_dir / "objects" / MODEL_BUCKET / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(model.archive())
            self.sagemaker.create_model(
                ModelName=model.name,
                PrimaryContainer={
                    "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sklearn:1.2-1",
                    "ModelDataUrl": f"s3://{MODEL_BUCKET}/{key}",
                },
                ExecutionRoleArn=ROLE,
            )
            console.print(f"   model {model.name} ← s3://{MODEL_BUCKET}/{key}")
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=f"{ENDPOINT}-v1",
            ProductionVariants=[
                {"VariantName": "AllTraffic", "ModelName": production.name,
                 "InitialInstanceCount": 2, "InstanceType": "ml.m5.large"}
            ],
        )  # fmt: skip
        self.sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-v1")
        started = time.monotonic()
        self.sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName=ENDPOINT, WaiterConfig={"Delay": 0.5, "MaxAttempts": 240}
        )
        console.print(
            f"   endpoint {ENDPOINT}: InService after {time.monotonic() - started:.1f}s "
            f"(2 worker processes serving {production.name})"
        )

    def _experiment(self) -> None:
        console.print("\n[bold]3. Start an inference experiment[/]: shadow cancer-v2, capture on")
        infrastructure = {
            "InfrastructureType": "RealTimeInference",
            "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 2},
        }
        self.sagemaker.create_inference_experiment(
            Name=EXPERIMENT, Type="ShadowMode", RoleArn=ROLE, EndpointName=ENDPOINT,
            ModelVariants=[
                {"ModelName": "cancer-v1", "VariantName": "AllTraffic",
                 "InfrastructureConfig": infrastructure},
                {"ModelName": "cancer-v2", "VariantName": "candidate",
                 "InfrastructureConfig": infrastructure},
            ],
            ShadowModeConfig={"SourceModelVariantName": "AllTraffic", "ShadowModelVariants": [
                {"ShadowModelVariantName": "candidate", "SamplingPercentage": 100}]},
            DataStorageConfig={"Destination": CAPTURE, "ContentType": {
                "CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}},
        )  # fmt: skip
        status = self._wait_for("Running")
        console.print(f"   experiment {EXPERIMENT}: {status}")

    def _replay(self, data: DemoData) -> None:
        console.print("\n[bold]4. Replay the data set as live traffic[/] (every request copied)")
        order = [index for _ in range(PASSES) for index in range(len(data.rows))]
        random.Random(1).shuffle(order)
        columns = (TextColumn("   requests"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())  # fmt: skip
        variants: dict[str, int] = {}
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("replay", total=len(order))
            for index in order:
                row = ",".join(f"{value:.6g}" for value in data.rows[index])
                response = self.runtime.invoke_endpoint(
                    EndpointName=ENDPOINT, Body=row, ContentType="text/csv",
                    InferenceId=f"case-{index}-{progress.tasks[0].completed:.0f}",
                )  # fmt: skip
                name = response["InvokedProductionVariant"]
                variants[name] = variants.get(name, 0) + 1
                progress.advance(task)
        console.print(f"   answered by {variants}; the candidate's answers never reach callers")
        time.sleep(3)  # let the last copies, comparisons and capture files land

    def _report(self) -> dict[str, Any]:
        console.print("\n[bold]5. The comparison report[/] (shadowserve report)")
        report = fetch_report(self.server.url, EXPERIMENT, "us-east-1", {})
        print_report(report, as_json=False, console=console)
        console.print(
            "   candidate mode (the default): a new model may answer differently, within bounds; "
            "each check is in docs/report.md"
        )
        console.print(
            f"   dashboard: {self.server.url}/ui/experiment.html?name={EXPERIMENT}"
            " (up until Ctrl-C when run in a terminal; --keep-running anywhere)",
            soft_wrap=True,  # keep the address on one line, for copying
        )
        return report

    def _stop(self, promote: bool, production: TrainedModel, candidate: TrainedModel) -> None:
        actions = {"AllTraffic": "Remove", "candidate": "Promote"} if promote else {
            "AllTraffic": "Retain", "candidate": "Remove"}  # fmt: skip
        verb = "promote the candidate" if promote else "keep production, remove the candidate"
        console.print(f"\n[bold]6. Stop the experiment[/]: {verb}")
        self.sagemaker.stop_inference_experiment(
            Name=EXPERIMENT, ModelVariantActions=actions, Reason=f"demo verdict: {verb}"
        )
        console.print(f"   experiment {EXPERIMENT}: {self._wait_for('Completed')}")
        self.sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName=ENDPOINT, WaiterConfig={"Delay": 0.5, "MaxAttempts": 240}
        )
        endpoint = self.sagemaker.describe_endpoint(EndpointName=ENDPOINT)
        names = [v["VariantName"] for v in endpoint["ProductionVariants"]]
        config = self.sagemaker.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"]
        )
        models = [v["ModelName"] for v in config["ProductionVariants"]]
        answered = {
            self.runtime.invoke_endpoint(
                EndpointName=ENDPOINT, Body=",".join(["15"] * 30), ContentType="text/csv"
            )["InvokedProductionVariant"]
            for _ in range(5)
        }
        serving = candidate.name if promote else production.name
        console.print(
            f"   endpoint {ENDPOINT} now serves variants {names} (model {models}); "
            f"requests answered by {sorted(answered)}: {serving} is in production"
        )

    def _show_capture(self) -> None:
        console.print("\n[bold]7. Captured data[/] (SageMaker's data-capture format)")
        root = self.data_dir / "objects" / "demo-capture"
        files = sorted(root.rglob("*.jsonl"))
        records = sum(len(path.read_text().splitlines()) for path in files)
        console.print(f"   {records} records in {len(files)} files under {root}/")
        # <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>
        variants = sorted({path.relative_to(root).parts[2] for path in files})
        console.print(f"   one folder per variant: {variants}, then yyyy/mm/dd/hh/")

    def _wait_for(self, status: str) -> str:
        for _ in range(240):
            current: str = self.sagemaker.describe_inference_experiment(Name=EXPERIMENT)["Status"]
            if current == status:
                return current
            time.sleep(0.25)
        raise click.ClickException(f"experiment {EXPERIMENT} never reached {status}")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for_interrupt(server: ServerProcess) -> None:
    try:
        while server.process is not None and server.process.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
