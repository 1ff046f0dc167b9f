"""Thousands of generated requests, valid and not, to every operation we serve: bodies that
fit botocore's input shapes and the same with members of the wrong kind. The server never
answers 5xx, never dies, and every error is in AWS's shape (package conftest checks it is
still up at the end).

More examples: SHADOWSERVE_FUZZ_EXAMPLES=500 make test (the default keeps `make test` quick).
"""

from __future__ import annotations

import json
import os

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shadowserve.protocol import cloudcontrol, sagemaker
from shadowserve.protocol.awsjson_service import load_service_model
from tests.fuzz.aws_shape import assert_aws_answer
from tests.fuzz.strategies import fitting

EXAMPLES = int(os.environ.get("SHADOWSERVE_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure in CI can be replayed
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
SERVICES = {
    "SageMaker": ("sagemaker", "application/x-amz-json-1.1", sorted(sagemaker.OPERATIONS)),
    "CloudApiService": ("cloudcontrol", "application/x-amz-json-1.0",
                        sorted(cloudcontrol.OPERATIONS)),
}  # fmt: skip
CASES = [(prefix, op) for prefix, (_, _, ops) in SERVICES.items() for op in ops]


@pytest.mark.parametrize(("prefix", "operation"), CASES)
def test_generated_requests_get_aws_shaped_answers(
    http: httpx.Client, prefix: str, operation: str
) -> None:
    service, content_type, _ = SERVICES[prefix]
    shape = load_service_model(service).operation_model(operation).input_shape
    headers = {"X-Amz-Target": f"{prefix}.{operation}", "Content-Type": content_type}

    @FUZZ
    @given(body=fitting(shape) | fitting(shape, junk=True) | st.builds(dict))
    def check(body: dict[str, object]) -> None:
        assert_aws_answer(http.post("/", headers=headers, content=json.dumps(body)))

    check()
