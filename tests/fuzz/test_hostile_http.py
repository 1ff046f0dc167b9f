"""Hostile HTTP: garbage and truncated bodies, deep nesting, wrong content types, unknown
paths and methods, huge headers and oversized payloads. Never a 5xx, never a dead server,
errors in AWS's shape."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shadowserve.cli.server_process import ServerProcess
from tests.fuzz.aws_shape import assert_aws_answer

SAGEMAKER = {"Content-Type": "application/x-amz-json-1.1"}
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
TARGETS = ["SageMaker.ListModels", "SageMaker.CreateEndpointConfig",
           "SageMaker.UpdateInferenceExperiment", "CloudApiService.CreateResource"]  # fmt: skip
VALID_CONFIG = json.dumps({
    "EndpointConfigName": "hostile-config",
    "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "m",
                            "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
})  # fmt: skip


def _post(http: httpx.Client, target: str, body: bytes, **headers: str) -> httpx.Response:
    return http.post("/", headers={**SAGEMAKER, "X-Amz-Target": target, **headers},
                     content=body)  # fmt: skip


@FUZZ
@given(target=st.sampled_from(TARGETS), body=st.binary(max_size=2000))
def test_garbage_bodies(http: httpx.Client, target: str, body: bytes) -> None:
    assert_aws_answer(_post(http, target, body))


@FUZZ
@given(cut=st.integers(min_value=1, max_value=len(VALID_CONFIG) - 1))
def test_truncated_json(http: httpx.Client, cut: int) -> None:
    response = _post(http, "SageMaker.CreateEndpointConfig", VALID_CONFIG[:cut].encode())
    assert response.status_code == 400
    assert_aws_answer(response)


@pytest.mark.parametrize("depth", [100, 10_000, 200_000])
def test_deep_nesting(http: httpx.Client, depth: int) -> None:
    arrays = ("[" * depth + "]" * depth).encode()
    objects = ('{"a":' * depth + "1" + "}" * depth).encode()
    for nested in (arrays, b'{"NameContains": ' + arrays + b"}"):
        response = _post(http, "SageMaker.ListModels", nested)
        assert response.status_code == 400, response.text[:200]
        assert_aws_answer(response)
    # Under a member ListModels does not have: ignored when it parses, as AWS ignores
    # unknown members; refused when it is too deep to parse.
    assert_aws_answer(_post(http, "SageMaker.ListModels", objects))


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "",
                                          "multipart/form-data; boundary=x",
                                          "application/x-amz-json-1.0"])  # fmt: skip
def test_wrong_content_types(http: httpx.Client, content_type: str) -> None:
    assert_aws_answer(_post(http, "SageMaker.ListModels", b"{}", **{"Content-Type": content_type}))


ODD_REQUESTS = [
    ("GET", "/"),
    ("PUT", "/"),
    ("DELETE", "/"),
    ("POST", "/nowhere"),
    ("GET", "/endpoints/x/invocations"),
    ("POST", "/endpoints/x/y/invocations"),
]


@pytest.mark.parametrize(("method", "path"), ODD_REQUESTS)
def test_unknown_paths_and_methods(http: httpx.Client, method: str, path: str) -> None:
    response = http.request(method, path, content=b"{}")
    assert response.status_code in (404, 405)
    assert_aws_answer(response)


def test_missing_and_unknown_targets(http: httpx.Client) -> None:
    for target in ("", "SageMaker", "SageMaker.", "Nope.ListModels", "SageMaker.DeleteEverything",
                   "x" * 5000):  # fmt: skip
        response = _post(http, target, b"{}")
        assert response.status_code == 400
        assert_aws_answer(response)


def _send_head(port: int, header_bytes: int) -> bytes:
    """A request whose X-Big header is this long; what the server answered (b"" if it reset
    the connection first)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        head = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.ListModels\r\n"
        big = b"X-Big: " + b"a" * header_bytes + b"\r\n"
        request = head + big + b"Content-Length: 2\r\n\r\n{}"
        try:
            raw.sendall(request)
            return raw.recv(200)
        except (ConnectionResetError, BrokenPipeError):
            return b""


def test_huge_headers_are_refused_and_the_server_carries_on(
    fuzz_server: ServerProcess, http: httpx.Client
) -> None:
    # Just over the 64 KiB ceiling: the server reads it all, answers 431 and closes.
    assert _send_head(fuzz_server.port, 70_000).startswith(b"HTTP/1.1 431 ")
    # Far beyond it: refused the same way, though the connection may be reset before the
    # answer arrives (the server stops reading, and closing with unread data sends RST).
    answer = _send_head(fuzz_server.port, 2_000_000)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer
    # The server carries on, and many ordinary-sized headers are fine.
    many = {f"X-Extra-{i}": "v" * 100 for i in range(100)}
    assert _post(http, "SageMaker.ListModels", b"{}", **many).status_code == 200


def test_oversized_control_plane_body(http: httpx.Client) -> None:
    big = json.dumps({"NameContains": "a" * 12_000_000}).encode()
    response = _post(http, "SageMaker.ListModels", big)
    assert response.status_code == 413
    assert_aws_answer(response)


def _runtime_error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 500, response.text[:300]
    body: dict[str, Any] = response.json()
    assert response.headers["x-amzn-ErrorType"] == body["ErrorCode"]
    return body


def test_oversized_invoke_payloads_declared_or_streamed(http: httpx.Client) -> None:
    too_big = b"x" * (6 * 1024 * 1024 + 1)
    declared = http.post("/endpoints/nowhere/invocations", content=too_big,
                         headers={"Content-Type": "application/json"})  # fmt: skip
    assert declared.status_code == 400
    assert "exceeds the maximum" in _runtime_error(declared)["Message"]

    def chunks() -> Any:  # no Content-Length: refused while streaming, not after
        for _ in range(64):
            yield b"x" * (1024 * 1024)

    streamed = http.post("/endpoints/nowhere/invocations", content=chunks(),
                         headers={"Content-Type": "application/json"})  # fmt: skip
    assert streamed.status_code == 400
    assert "exceeds the maximum" in _runtime_error(streamed)["Message"]


@FUZZ
@given(
    name=st.text(min_size=0, max_size=80),
    body=st.binary(max_size=500),
    content_type=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
def test_invoke_with_generated_names_bodies_and_types(
    http: httpx.Client, name: str, body: bytes, content_type: str
) -> None:
    try:
        path = "/endpoints/" + httpx.URL(name).raw_path.decode().lstrip("/") + "/invocations"
        response = http.post(path, content=body, headers={"Content-Type": content_type})
    except (httpx.LocalProtocolError, httpx.InvalidURL):
        return  # the client itself refused the name or header; nothing was sent
    if response.status_code in (404, 405):
        assert_aws_answer(response)  # a name with "/" is another path
    else:
        _runtime_error(response)
