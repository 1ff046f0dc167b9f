"""Each wire's one table from domain errors to AWS codes and HTTP statuses."""

from __future__ import annotations

import json

import pytest

from shadowserve.auth.sigv4 import missing_token, signature_mismatch
from shadowserve.dataplane import errors as runtime_errors
from shadowserve.domain import errors
from shadowserve.protocol.errors import RequestTooLarge, to_wire
from shadowserve.protocol.runtime_api import failure


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (errors.InvalidInput("x"), "ValidationException", 400),
        (errors.ResourceMissing("x"), "ValidationException", 400),
        (errors.ResourceNotFound("x"), "ResourceNotFound", 400),
        (errors.ResourceInUse("x"), "ResourceInUse", 400),
        (errors.Conflict("x"), "ConflictException", 400),
        (errors.ResourceLimitExceeded("x"), "ResourceLimitExceeded", 400),
        (errors.StorageFull("disk"), "ServiceUnavailable", 503),
        (RequestTooLarge("x"), "ValidationException", 413),
        (errors.CodedError("TypeNotFoundException", "x"), "TypeNotFoundException", 400),
        (missing_token(), "MissingAuthenticationTokenException", 403),
        (signature_mismatch(), "InvalidSignatureException", 400),
        (errors.DomainError("x"), "InternalFailure", 500),
    ],
)
def test_aws_json_and_query_wires(error: errors.DomainError, code: str, status: int) -> None:
    wire = to_wire(error)
    assert (wire.code, wire.status, wire.message) == (code, status, error.message)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (runtime_errors.validation_error("x"), 400),
        (runtime_errors.model_error(500, "boom", "Received …", "arn"), 424),
        (runtime_errors.model_not_ready("x"), 429),
        (runtime_errors.service_unavailable("x"), 503),
        (missing_token(), 403),
    ],
)
def test_sagemaker_runtime_wire(error: runtime_errors.InvokeError, status: int) -> None:
    response = failure(error)
    assert response.status_code == status
    assert response.headers["x-amzn-errortype"] == error.code
    assert json.loads(response.body)["Message"] == error.message
