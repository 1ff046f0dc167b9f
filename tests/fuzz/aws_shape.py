"""What every answer of an AWS-speaking server must look like, whatever it was sent."""

from __future__ import annotations

import json

import httpx


def assert_aws_answer(response: httpx.Response) -> None:
    """Never a 5xx; a JSON object; errors carry `__type` and `message` and name their type
    in the `x-amzn-ErrorType` header, as botocore reads them."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    body = json.loads(response.content)
    assert isinstance(body, dict), response.text[:200]
    if response.status_code >= 400:
        assert isinstance(body.get("__type"), str), body
        assert isinstance(body.get("message"), str), body
        assert body["__type"].endswith(response.headers["x-amzn-ErrorType"]), body
