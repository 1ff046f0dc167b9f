"""The awsJson 1.0 / 1.1 wire format: request bodies, responses, errors, timestamps."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from shadowserve.domain.arns import Scope
from shadowserve.protocol.errors import WireError
from shadowserve.protocol.validate import SerializationFailed

DEFAULT_REGION = "us-east-1"
_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/")
_QUERY_CREDENTIAL = re.compile(r"^[^/]+/\d{8}/([a-z0-9-]+)/")


def parse_body(raw: bytes) -> dict[str, Any]:
    """An empty body means ``{}``; anything else must be a JSON object."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SerializationFailed("The request body is not valid JSON.") from exc
    except RecursionError as exc:  # nesting deeper than any request of ours needs
        raise SerializationFailed("The request body is nested too deeply.") from exc
    if not isinstance(body, dict):
        raise SerializationFailed("The request body must be a JSON object.")
    return body


def region_of(authorization: str | None, query_credential: str | None) -> str:
    """The region of the SigV4 credential scope, from the header or a presigned URL."""
    if authorization:
        match = _CREDENTIAL.search(authorization)
        if match:
            return match.group(1)
    if query_credential:
        match = _QUERY_CREDENTIAL.match(query_credential)
        if match:
            return match.group(1)
    return DEFAULT_REGION


def scope_for(account: str, authorization: str | None, query_credential: str | None) -> Scope:
    return Scope(account=account, region=region_of(authorization, query_credential))


def encode(value: Any) -> bytes:
    return json.dumps(to_wire_values(value), separators=(",", ":")).encode()


def to_wire_values(value: Any) -> Any:
    """Timestamps become epoch seconds with milliseconds, as SageMaker sends them."""
    if isinstance(value, datetime):
        return round(value.timestamp(), 3)
    if isinstance(value, dict):
        return {key: to_wire_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_wire_values(item) for item in value]
    return value


def error_body(error: WireError, namespace: str | None = None) -> bytes:
    """``{"__type", "message"}``; awsJson 1.0 services qualify __type with their namespace.

    ``Message`` is sent too: it is the modeled member of SageMaker's error shapes.
    """
    type_name = f"{namespace}#{error.code}" if namespace else error.code
    return encode({"__type": type_name, "message": error.message, "Message": error.message})
