"""InvokeEndpoint's wire behaviour and errors, as SageMaker Runtime answers them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import client
from tests.dataplane_fixtures import MODEL_TIMEOUT, Models, running_container_endpoint
from tests.dataplane_support import wait_until


@pytest.fixture(scope="module")
def container_endpoint(dp_server: Any, s3_url: str) -> Iterator[tuple[Models, str]]:
    models = Models(dp_server, s3_url)
    with running_container_endpoint(models, "echo-container") as endpoint:
        yield models, endpoint


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return excinfo.value.response  # type: ignore[return-value]


def test_headers_in_and_out(container_endpoint: tuple[Models, str]) -> None:
    models, endpoint = container_endpoint
    response = models.runtime.invoke_endpoint(
        EndpointName=endpoint, Body=b'{"x": 1}', ContentType="application/json",
        Accept="application/json", CustomAttributes="trace=abc", InferenceId="req-1",
    )  # fmt: skip
    assert json.loads(response["Body"].read()) == {"accept": "application/json", "got": {"x": 1}}
    assert response["CustomAttributes"] == "echo:trace=abc"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["ResponseMetadata"]["RequestId"]  # x-amzn-RequestId, as on every answer


def test_the_region_of_the_signature_is_the_region_invoked(
    dp_server: Any, container_endpoint: tuple[Models, str]
) -> None:
    _, endpoint = container_endpoint
    west = client(dp_server.url, "sagemaker-runtime", region="us-west-2")
    with pytest.raises(ClientError) as excinfo:
        west.invoke_endpoint(EndpointName=endpoint, Body=b"{}", ContentType="application/json")
    assert _error(excinfo)["Error"]["Message"] == (
        f"Endpoint {endpoint} of account 123456789012 not found."
    )


def test_model_error_carries_the_original_status_and_message(
    container_endpoint: tuple[Models, str],
) -> None:
    models, endpoint = container_endpoint
    for status, side in ((404, "client"), (500, "server")):
        with pytest.raises(ClientError) as excinfo:
            models.invoke(endpoint, {"status": status, "message": "bad input"})
        response = _error(excinfo)
        assert response["Error"]["Code"] == "ModelError"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
        assert response["OriginalStatusCode"] == status
        assert response["OriginalMessage"] == "bad input"
        group = f"/aws/sagemaker/Endpoints/{endpoint}"
        assert response["Error"]["Message"] == (
            f'Received {side} error ({status}) from primary with message "bad input". See '
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
            f"#logEventViewer:group={group} in account 123456789012 for more information."
        )
        assert response["LogStreamArn"].endswith(group)
        assert response["ResponseMetadata"]["RequestId"]


def test_a_model_that_raises_is_a_model_error(models: Models) -> None:
    endpoint = models.endpoint(models.model(environment={"FAIL": "1"}))
    with pytest.raises(ClientError) as excinfo:
        models.invoke(endpoint, [1])
    response = _error(excinfo)
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == 500
    assert "RuntimeError: shadow model exploded" in response["OriginalMessage"]


def test_unsupported_content_type_is_a_client_model_error(models: Models) -> None:
    endpoint = models.endpoint(models.model())
    with pytest.raises(ClientError) as excinfo:
        models.runtime.invoke_endpoint(EndpointName=endpoint, Body=b"x", ContentType="image/png")
    assert _error(excinfo)["OriginalStatusCode"] == 415


def test_model_timeout(models: Models) -> None:
    endpoint = models.endpoint(models.model(environment={"SLEEP": str(MODEL_TIMEOUT + 2)}))
    with pytest.raises(ClientError) as excinfo:
        models.invoke(endpoint, [1])
    response = _error(excinfo)
    assert response["Error"]["Code"] == "ModelError"
    assert (
        "timed out while waiting for a response from container primary"
        in (response["Error"]["Message"])
    )


def test_unknown_endpoint_and_variants(container_endpoint: tuple[Models, str]) -> None:
    models, endpoint = container_endpoint
    with pytest.raises(ClientError) as excinfo:
        models.invoke("no-such-endpoint", [1])
    assert _error(excinfo)["Error"] == {
        "Code": "ValidationError",
        "Message": "Endpoint no-such-endpoint of account 123456789012 not found.",
    }
    with pytest.raises(ClientError) as excinfo:
        models.invoke(endpoint, [1], TargetVariant="Other")
    assert _error(excinfo)["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as excinfo:
        models.invoke(endpoint, [1], TargetModel="m.tar.gz")
    assert "not a multi-model endpoint" in _error(excinfo)["Error"]["Message"]
    with pytest.raises(ClientError) as excinfo:
        models.invoke(endpoint, [1], InferenceId="x" * 65)
    assert _error(excinfo)["Error"]["Code"] == "ValidationError"


def test_payload_limit(container_endpoint: tuple[Models, str]) -> None:
    models, endpoint = container_endpoint
    url = f"{models.server.url}/endpoints/{endpoint}/invocations"
    response = httpx.post(url, content=b"0" * (6 * 1024 * 1024 + 1),
                          headers={"content-type": "application/octet-stream"})  # fmt: skip
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "ValidationError"
    assert "exceeds the maximum of 6291456 bytes" in response.json()["Message"]


def test_weights_and_target_variant(models: Models) -> None:
    first, second = (
        models.model(environment={"SCALE": "1"}),
        models.model(environment={"SCALE": "100"}),
    )
    name = "weighted-" + first
    models.sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "A", "ModelName": first, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large", "InitialVariantWeight": 3.0},
            {"VariantName": "B", "ModelName": second, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0},
        ],
    )  # fmt: skip
    models.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    models.wait_in_service(name)
    seen = [models.invoke(name, [1])[1]["InvokedProductionVariant"] for _ in range(80)]
    assert 40 <= seen.count("A") <= 75  # 3:1 weights; a fair coin would be about 40
    body, response = models.invoke(name, [1], TargetVariant="B")
    assert (body, response["InvokedProductionVariant"]) == ([100.0], "B")


def test_not_ready_while_creating(models: Models) -> None:
    source = """
        import time

        def model_fn(model_dir):
            time.sleep(4)
            return lambda x: x
    """
    endpoint = models.endpoint(models.model(source), wait=False)
    # botocore retries a 429 by itself; ask once to see the error.
    once = client(models.server.url, "sagemaker-runtime", attempts=1)
    with pytest.raises(ClientError) as excinfo:
        once.invoke_endpoint(EndpointName=endpoint, Body=b"[1]", ContentType="application/json")
    assert _error(excinfo)["Error"]["Code"] == "ModelNotReadyException"
    assert _error(excinfo)["ResponseMetadata"]["HTTPStatusCode"] == 429
    models.wait_in_service(endpoint)
    assert wait_until(lambda: models.invoke(endpoint, [1])[0] == [1])
