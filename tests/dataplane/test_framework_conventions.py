"""The framework-container conventions the SageMaker SDKs rely on, with real workers:
SAGEMAKER_SUBMIT_DIRECTORY pointing at an uploaded sourcedir.tar.gz, code/requirements.txt
installed into a cached per-model environment (from a wheel in the archive, so no network
is needed), and the default model_fn for archives without inference.py."""

from __future__ import annotations

import base64
import hashlib
import io
import pickle
import tarfile
import textwrap
import uuid
import zipfile
from typing import Any

import joblib
from botocore.exceptions import ClientError
from sklearn.linear_model import LogisticRegression

from tests.conftest import client
from tests.dataplane_fixtures import Models
from tests.dataplane_support import wait_until, worker_pids

ENTRY_POINT = """
    import json
    import shadowtoy
    from helper import OFFSET

    def model_fn(model_dir):
        with open(f"{model_dir}/weights.json") as handle:
            return json.load(handle)

    def predict_fn(data, weights):
        return {"toy": shadowtoy.answer(), "sum": sum(data) * weights["scale"] + OFFSET}
"""


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _wheel(name: str, version: str, source: str) -> tuple[str, bytes]:
    """A pure-Python wheel, built by hand: what pip installs from --find-links."""
    files = {
        f"{name}/__init__.py": source.encode(),
        f"{name}-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ).encode(),
        f"{name}-{version}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: shadowserve-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record_lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record_lines.append(f"{path},sha256={digest},{len(data)}")
    record = f"{name}-{version}.dist-info/RECORD"
    files[record] = ("\n".join([*record_lines, f"{record},,"]) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
    return f"{name}-{version}-py3-none-any.whl", buffer.getvalue()


def _sdk_style_model(models: Models, requirements: str) -> str:
    """As the SageMaker Python SDK v2 deploys ``Model(entry_point=…, source_dir=…)`` for
    framework images: model.tar.gz holds only the artifacts; the code is uploaded apart as
    sourcedir.tar.gz and named by SAGEMAKER_SUBMIT_DIRECTORY and SAGEMAKER_PROGRAM."""
    name = f"m-{uuid.uuid4().hex[:10]}"
    wheel_name, wheel = _wheel("shadowtoy", "1.0", "def answer():\n    return 42\n")
    models.s3.put_object(Bucket="models", Key=f"{name}/model.tar.gz",
                         Body=_tar_gz({"weights.json": b'{"scale": 3}'}))  # fmt: skip
    source = {
        "inference.py": textwrap.dedent(ENTRY_POINT).encode(),
        "helper.py": b"OFFSET = 1\n",
        "requirements.txt": textwrap.dedent(requirements).encode(),
        f"wheels/{wheel_name}": wheel,
    }
    models.s3.put_object(Bucket="models", Key=f"{name}/sourcedir.tar.gz", Body=_tar_gz(source))
    models.sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1",
            "ModelDataUrl": f"s3://models/{name}/model.tar.gz",
            "Environment": {
                "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://models/{name}/sourcedir.tar.gz",
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                "SAGEMAKER_REGION": "us-east-1",
            },
        },
    )
    return name


def _log_lines(models: Models, endpoint: str) -> list[str]:
    events = client(models.server.url, "logs").filter_log_events(
        logGroupName=f"/aws/sagemaker/Endpoints/{endpoint}"
    )["events"]
    return [event["message"] for event in events]


def _failed(models: Models, endpoint: str) -> dict[str, Any] | None:
    described: dict[str, Any] = models.sagemaker.describe_endpoint(EndpointName=endpoint)
    return described if described["EndpointStatus"] == "Failed" else None


OFFLINE_REQUIREMENTS = """
    --no-index
    --find-links wheels
    shadowtoy==1.0
    numpy>=1.20
"""


def test_submit_directory_and_installed_requirements(models: Models) -> None:
    endpoint = models.endpoint(_sdk_style_model(models, OFFLINE_REQUIREMENTS))
    body, _ = models.invoke(endpoint, [1, 2])
    assert body == {"toy": 42, "sum": 10}
    lines = _log_lines(models, endpoint)
    assert any("installing shadowtoy==1.0" in line for line in lines), lines
    assert any("Successfully installed shadowtoy-1.0" in line for line in lines), lines
    # The same requirements again: the environment built before is reused.
    again = models.endpoint(_sdk_style_model(models, OFFLINE_REQUIREMENTS))
    assert models.invoke(again, [0])[0] == {"toy": 42, "sum": 1}
    assert any("using the environment built before" in line for line in _log_lines(models, again))


def test_an_install_that_fails_fails_the_endpoint_with_pips_reason(models: Models) -> None:
    requirements = """
        --no-index
        --find-links wheels
        shadowtoy==1.0
        nothere-package==9.9
    """
    endpoint = models.endpoint(_sdk_style_model(models, requirements), wait=False)
    described = wait_until(lambda: _failed(models, endpoint), timeout=90)
    reason = described["FailureReason"]
    assert reason.startswith("Variant AllTraffic: code/requirements.txt could not be installed")
    assert "nothere-package==9.9" in reason
    assert any("nothere-package" in line for line in _log_lines(models, endpoint))


def test_default_model_fn_loads_a_scikit_learn_model(models: Models) -> None:
    classifier = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    for file_name, dump in (("model.joblib", joblib.dump), ("model.pkl", None)):
        buffer = io.BytesIO()
        if dump is None:
            pickle.dump(classifier, buffer)
        else:
            dump(classifier, buffer)
        name = f"m-{uuid.uuid4().hex[:10]}"
        models.s3.put_object(Bucket="models", Key=f"{name}/model.tar.gz",
                             Body=_tar_gz({file_name: buffer.getvalue()}))  # fmt: skip
        models.sagemaker.create_model(ModelName=name, PrimaryContainer={
            "Image": "sklearn", "ModelDataUrl": f"s3://models/{name}/model.tar.gz"})  # fmt: skip
        endpoint = models.endpoint(name)
        assert models.invoke(endpoint, [[0.0], [3.0]])[0] == [0, 1], file_name


def test_an_archive_with_nothing_to_load_fails_at_deploy_naming_the_file(models: Models) -> None:
    name = f"m-{uuid.uuid4().hex[:10]}"
    models.s3.put_object(Bucket="models", Key=f"{name}/model.tar.gz",
                         Body=_tar_gz({"weights.bin": b"\x00" * 8}))  # fmt: skip
    models.sagemaker.create_model(ModelName=name, PrimaryContainer={
        "Image": "sklearn", "ModelDataUrl": f"s3://models/{name}/model.tar.gz"})  # fmt: skip
    endpoint = models.endpoint(name, wait=False)
    reason = wait_until(lambda: _failed(models, endpoint), timeout=60)["FailureReason"]
    assert "no code/inference.py" in reason and "weights.bin" in reason


def test_a_submit_directory_that_is_neither_url_nor_model_path_is_refused(models: Models) -> None:
    name = models.model(environment={"SAGEMAKER_SUBMIT_DIRECTORY": "/etc"})
    endpoint = models.endpoint(name, wait=False)
    reason = wait_until(lambda: _failed(models, endpoint), timeout=60)["FailureReason"]
    assert "SAGEMAKER_SUBMIT_DIRECTORY /etc must be an s3:// or https:// URL" in reason
    # The path the SDK writes when it repacks code into model.tar.gz works as is.
    repacked = models.model(environment={"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"})
    assert models.invoke(models.endpoint(repacked), [2])[0] == [4.0]


def test_a_model_file_whose_framework_is_missing_says_how_to_get_it(models: Models) -> None:
    name = f"m-{uuid.uuid4().hex[:10]}"
    models.s3.put_object(Bucket="models", Key=f"{name}/model.tar.gz",
                         Body=_tar_gz({"xgboost-model": b"not really a booster"}))  # fmt: skip
    models.sagemaker.create_model(ModelName=name, PrimaryContainer={
        "Image": "xgboost", "ModelDataUrl": f"s3://models/{name}/model.tar.gz"})  # fmt: skip
    endpoint = models.endpoint(name, wait=False)
    reason = wait_until(lambda: _failed(models, endpoint), timeout=60)["FailureReason"]
    assert "xgboost-model is an XGBoost model, but xgboost is not installed" in reason
    assert "code/requirements.txt, or pip install xgboost" in reason


def test_an_endpoint_deleted_while_its_requirements_install_starts_no_worker(
    models: Models,
) -> None:
    # Requirements never built before (their own hash), so the install takes a while.
    requirements = OFFLINE_REQUIREMENTS + f"# {uuid.uuid4().hex}\n"
    endpoint = models.endpoint(_sdk_style_model(models, requirements), wait=False)

    def logged(text: str) -> bool:
        try:
            return any(text in line for line in _log_lines(models, endpoint))
        except ClientError:  # the log group is made when the deployment starts
            return False

    wait_until(lambda: logged("installing shadowtoy"), timeout=30)
    models.sagemaker.delete_endpoint(EndpointName=endpoint)
    wait_until(lambda: logged("the deployment was given up while this instance was prepared"),
               timeout=60)  # fmt: skip
    assert not worker_pids(models.server.data_dir, endpoint)
