"""A call on the awsQuery wire as older botocore makes it: botocore's own query serializer
and parser, whatever protocol today's model prefers for the service."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import botocore.session
import httpx
from botocore.parsers import create_parser
from botocore.serialize import create_serializer


def query_call(url: str, service: str, operation: str, **params: Any) -> tuple[int, Any]:
    """(HTTP status, botocore's parse of the answer: the result, or {"Error": …})."""
    model = botocore.session.get_session().get_service_model(service)
    op_model = model.operation_model(operation)
    request = create_serializer("query").serialize_to_request(params, op_model)
    # The serializer leaves the form as a dict; botocore form-encodes it when sending.
    body = urlencode(request["body"]).encode()
    response = httpx.post(url, content=body, headers=dict(request["headers"]), timeout=30)
    parsed = create_parser("query").parse(
        {"status_code": response.status_code, "headers": dict(response.headers),
         "body": response.content},
        op_model.output_shape if response.status_code < 300 else None,
    )  # fmt: skip
    return response.status_code, parsed
