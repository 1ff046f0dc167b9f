"""`serve --auth sigv4`: every request signed by a known key, AWS's errors otherwise, and the
account taken from the key. Real clients (boto3, the AWS CLI) and hand-signed requests for
the cases clients won't produce (old timestamps, no signature, presigned URLs)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from shadowserve.cli.server_process import ServerProcess, free_port
from tests import builders
from tests.conftest import FAST, client

ALICE = ("AKIAALICE0000000001", "alice-secret", "111111111111")
BOB = ("AKIABOB00000000000002", "bob-secret", "222222222222")
CREDENTIALS = f"""
[alice]
aws_access_key_id = {ALICE[0]}
aws_secret_access_key = {ALICE[1]}
aws_account_id = {ALICE[2]}

[bob]
aws_access_key_id = {BOB[0]}
aws_secret_access_key = {BOB[1]}
aws_account_id = {BOB[2]}
"""
LIST_MODELS = {"X-Amz-Target": "SageMaker.ListModels",
               "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("auth")
    keys = root / "credentials"
    keys.write_text(CREDENTIALS)
    args = [*FAST, "--auth", "sigv4", "--credentials-file", str(keys), "--host", "0.0.0.0"]
    with ServerProcess(root / "data", extra_args=args) as process:
        yield process


def _client(server: ServerProcess, key: tuple[str, str, str], service: str = "sagemaker",
            secret: str | None = None) -> Any:  # fmt: skip
    return client(server.url, service, key_id=key[0], secret=secret or key[1], attempts=1)


def _signed(url: str, headers: dict[str, str], body: bytes, key: tuple[str, str, str],
            when: datetime) -> dict[str, str]:  # fmt: skip
    """Headers of a request signed at `when` (botocore's signer, our clock)."""
    request = AWSRequest(method="POST", url=url, headers=dict(headers), data=body)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = stamp
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(key[0], key[1]), "sagemaker", "us-east-1")
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    scope = f"{key[0]}/{stamp[:8]}/us-east-1/sagemaker/aws4_request"
    signed_headers = signer.signed_headers(signer.headers_to_sign(request))
    return {**headers, "X-Amz-Date": stamp,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, "
                             f"SignedHeaders={signed_headers}, Signature={signature}"}  # fmt: skip


def _error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["__type"], body["message"]


def _model_names(server: ServerProcess, key: tuple[str, str, str]) -> list[str]:
    models = _client(server, key).list_models()["Models"]
    return [model["ModelName"] for model in models]


def test_signed_calls_work_and_each_key_sees_its_own_account(secured: ServerProcess) -> None:
    alice, bob = _client(secured, ALICE), _client(secured, BOB)
    arn = builders.create_model(alice, "alice-model")
    assert arn == f"arn:aws:sagemaker:us-east-1:{ALICE[2]}:model/alice-model"
    assert alice.describe_model(ModelName="alice-model")["ModelArn"] == arn
    assert "alice-model" not in _model_names(secured, BOB)
    with pytest.raises(ClientError) as hidden:
        bob.describe_model(ModelName="alice-model")
    assert hidden.value.response["Error"]["Code"] == "ValidationException"
    assert "Could not find model" in hidden.value.response["Error"]["Message"]
    # Same name, other account: a different resource.
    assert builders.create_model(bob, "alice-model").split(":")[4] == BOB[2]


def test_wrong_secret_unknown_key_and_no_signature_are_refused(secured: ServerProcess) -> None:
    forger = _client(secured, ALICE, secret="not-alices-secret")
    with pytest.raises(ClientError) as wrong:
        forger.create_model(ModelName="forged", PrimaryContainer={"Image": "x"})
    assert wrong.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert "does not match the signature you provided" in wrong.value.response["Error"]["Message"]

    stranger = _client(secured, ("AKIASTRANGER00000000", "s", "333333333333"))
    with pytest.raises(ClientError) as unknown:
        stranger.create_model(ModelName="forged", PrimaryContainer={"Image": "x"})
    assert unknown.value.response["Error"]["Code"] == "UnrecognizedClientException"

    anonymous = httpx.post(secured.url, headers={**LIST_MODELS,
                           "X-Amz-Target": "SageMaker.CreateModel"},
                           content=json.dumps({"ModelName": "forged",
                                               "PrimaryContainer": {"Image": "x"}}))  # fmt: skip
    assert _error(anonymous) == (403, "MissingAuthenticationTokenException",
                                 "Missing Authentication Token")  # fmt: skip
    garbled = httpx.post(secured.url, headers={**LIST_MODELS, "Authorization": "Basic abc"},
                         content=b"{}")  # fmt: skip
    assert _error(garbled)[:2] == (400, "IncompleteSignatureException")
    # No resource was touched by any of them.
    assert "forged" not in _model_names(secured, ALICE)


def test_a_changed_body_breaks_the_signature(secured: ServerProcess) -> None:
    body = json.dumps({"ModelName": "signed", "PrimaryContainer": {"Image": "x"}}).encode()
    headers = _signed(secured.url + "/", {**LIST_MODELS, "X-Amz-Target": "SageMaker.CreateModel"},
                      body, ALICE, datetime.now(UTC))  # fmt: skip
    tampered = body.replace(b"signed", b"evil00")
    response = httpx.post(secured.url, headers=headers, content=tampered)
    assert _error(response)[:2] == (400, "InvalidSignatureException")
    assert "evil00" not in _model_names(secured, ALICE)


@pytest.mark.parametrize(("minutes", "text"), [(-10, "Signature expired: "),
                                           (10, "Signature not yet current: ")])  # fmt: skip
def test_clock_skew_beyond_five_minutes_is_refused(secured: ServerProcess, minutes: int,
                                                   text: str) -> None:  # fmt: skip
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    headers = _signed(secured.url + "/", LIST_MODELS, b"{}", ALICE, when)
    status, code, message = _error(httpx.post(secured.url, headers=headers, content=b"{}"))
    assert (status, code) == (400, "InvalidSignatureException")
    assert message.startswith(text + when.strftime("%Y%m%dT%H%M%SZ"))
    assert message.endswith(" 5 min.)")
    # Within the bound it passes.
    near = _signed(secured.url + "/", LIST_MODELS, b"{}", ALICE,
                   datetime.now(UTC) - timedelta(minutes=4))  # fmt: skip
    assert httpx.post(secured.url, headers=near, content=b"{}").status_code == 200


def test_presigned_urls_pass_until_they_expire(secured: ServerProcess) -> None:
    def presign(expires: int, when: datetime | None = None) -> str:
        request = AWSRequest(method="POST", url=secured.url + "/", data=b"{}")
        signer = SigV4QueryAuth(Credentials(ALICE[0], ALICE[1]), "sagemaker", "us-east-1",
                                expires=expires)  # fmt: skip
        # The signer's clock, not the server's, is set back: the URL was made earlier.
        with mock.patch("botocore.auth.get_current_datetime", return_value=when or
                        datetime.now(UTC)):  # fmt: skip
            signer.add_auth(request)
        return str(request.url)

    url = presign(60)
    assert "X-Amz-Signature=" in url
    response = httpx.post(url, headers=LIST_MODELS, content=b"")
    assert response.status_code == 200, response.text
    assert "Models" in response.json()

    stale = presign(60, datetime.now(UTC) - timedelta(minutes=2))
    status, code, message = _error(httpx.post(stale, headers=LIST_MODELS, content=b""))
    assert (status, code) == (400, "InvalidSignatureException")
    assert message.startswith("Signature expired: ") and message.endswith(" - 60 sec.)")
    forged = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert _error(httpx.post(forged, headers=LIST_MODELS, content=b""))[1] in (
        "InvalidSignatureException"
    )


def test_invoke_endpoint_and_cloud_control_are_signed_too(secured: ServerProcess) -> None:
    alice = _client(secured, ALICE)
    builders.create_model(alice, "alice-echo")
    builders.create_endpoint(alice, "alice-echo", "alice-echo")
    runtime = _client(secured, ALICE, "sagemaker-runtime")
    answer = runtime.invoke_endpoint(EndpointName="alice-echo", Body=b'{"x": 1}',
                                     ContentType="application/json")  # fmt: skip
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    # Bob's account has no such endpoint; a forged secret is refused before routing.
    with pytest.raises(ClientError) as other:
        _client(secured, BOB, "sagemaker-runtime").invoke_endpoint(
            EndpointName="alice-echo", Body=b"{}", ContentType="application/json"
        )
    assert other.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as forged:
        _client(secured, ALICE, "sagemaker-runtime", secret="wrong").invoke_endpoint(
            EndpointName="alice-echo", Body=b"{}", ContentType="application/json"
        )
    assert forged.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert forged.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    cloud = _client(secured, ALICE, "cloudcontrol")
    listed = cloud.list_resources(TypeName="AWS::SageMaker::Endpoint")
    assert [d["Identifier"] for d in listed["ResourceDescriptions"]] == [
        f"arn:aws:sagemaker:us-east-1:{ALICE[2]}:endpoint/alice-echo"
    ]
    with pytest.raises(ClientError) as refused:
        _client(secured, ALICE, "cloudcontrol", secret="wrong").list_resources(
            TypeName="AWS::SageMaker::Endpoint"
        )
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    # In Cloud Control's own wire (awsJson 1.0), as every other error of that service.
    unsigned = httpx.post(secured.url + "/", content=b"{}", headers={
        "X-Amz-Target": "CloudApiService.ListResources",
        "Content-Type": "application/x-amz-json-1.0"})  # fmt: skip
    assert unsigned.status_code == 403
    assert unsigned.headers["content-type"] == "application/x-amz-json-1.0"
    assert unsigned.json()["__type"].endswith("#MissingAuthenticationTokenException")
    # CloudWatch's, as older botocore speaks it (awsQuery): an XML error document.
    query = httpx.post(secured.url + "/", content=b"Action=ListMetrics&Version=2010-08-01",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert query.status_code == 403
    assert "<Code>MissingAuthenticationTokenException</Code>" in query.text


def test_the_aws_cli_signs_with_its_configured_key(secured: ServerProcess) -> None:
    executable = str(Path(sys.executable).with_name("aws"))
    env = os.environ | {"AWS_ENDPOINT_URL": secured.url, "AWS_PAGER": "",
                        "AWS_ACCESS_KEY_ID": BOB[0], "AWS_SECRET_ACCESS_KEY": BOB[1],
                        "AWS_MAX_ATTEMPTS": "1"}  # fmt: skip
    command = [executable, "sagemaker", "list-models", "--output", "json"]
    ok = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60,
                        check=False)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    bad = subprocess.run([executable, "sagemaker", "list-models"], capture_output=True,
                         text=True, env=env, timeout=60, check=False)  # fmt: skip
    assert bad.returncode == 255
    assert "InvalidSignatureException" in bad.stderr


def _own_address() -> str | None:
    """A non-loopback address of this machine, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_dashboard_and_metrics_answer_loopback_only(secured: ServerProcess) -> None:
    for path in ("/metrics", "/ui/", "/api/overview", "/healthz"):
        assert httpx.get(secured.url + path).status_code == 200, path
    address = _own_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to call from")
    remote = f"http://{address}:{secured.port}"
    for path in ("/metrics", "/ui/", "/api/overview"):
        assert httpx.get(remote + path).status_code == 403, path
    assert httpx.get(remote + "/healthz").status_code == 200
    assert httpx.post(remote, headers=LIST_MODELS, content=b"{}").status_code == 403


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "shadowserve.cli", "serve", "--data-dir",
               str(tmp_path / "data"), "--port", str(free_port()), *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def test_serve_refuses_sigv4_without_usable_keys(tmp_path: Path) -> None:
    missing = _serve(tmp_path, "--auth", "sigv4")
    assert missing.returncode == 2 and "--credentials-file" in missing.stderr
    broken = tmp_path / "credentials"
    broken.write_text("[alice]\naws_access_key_id = AKIA1\naws_secret_access_key = s\n")
    refused = _serve(tmp_path, "--auth", "sigv4", "--credentials-file", str(broken))
    assert refused.returncode == 2 and "missing aws_account_id" in refused.stderr


def test_serve_warns_loudly_when_open_beyond_loopback(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with ServerProcess(tmp_path / "open", extra_args=["--host", "0.0.0.0"], log_path=log):
        pass
    text = log.read_text()
    assert "WARNING: listening on 0.0.0.0 with --auth none" in text
    quiet = tmp_path / "quiet.log"
    with ServerProcess(tmp_path / "local", log_path=quiet):
        pass
    assert "WARNING" not in quiet.read_text()
