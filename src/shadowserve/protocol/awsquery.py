"""The awsQuery wire: form-encoded requests (``Action=…&Version=…``) and XML answers.

Older botocore speaks CloudWatch this way, and every botocore speaks STS and IAM so. The form
is read into the same nested parameters the JSON wires give (guided by the operation's
botocore input shape), handled by the same handlers, and the result written as XML from the
output shape. Requests for services or operations not served here get awsQuery's own error
document, so clients raise a ClientError rather than fail to parse the answer.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from botocore.model import Shape

from shadowserve.domain.arns import Scope
from shadowserve.protocol.awsjson_service import AwsJsonService, WireResponse
from shadowserve.protocol.errors import WireError
from shadowserve.protocol.validate import SerializationFailed

Body = dict[str, Any]
CONTENT_TYPE = "text/xml"


@dataclass(frozen=True)
class QueryService:
    """One awsQuery service: its API version and the JSON service whose handlers answer."""

    version: str
    service: AwsJsonService[Any]
    context: Any

    def handle(self, scope: Scope, action: str, form: Mapping[str, str]) -> WireResponse:
        request_id = str(uuid.uuid4())
        try:
            if not self.service.serves(action):
                raise _InvalidAction(action, self.version)
            op_model = self.service.model.operation_model(action)
            params = read_form(form, op_model.input_shape)
            body = self.service.call(self.context, scope, action, params)
        except _InvalidAction as exc:
            return error_response(WireError("InvalidAction", exc.message), request_id)
        except Exception as exc:
            wire = self.service.wire_error(exc, action, request_id)
            code = self.service.query_error(wire.code)
            return error_response(WireError(code, wire.message, wire.status), request_id)
        xmlns = self.service.model.metadata.get("xmlNamespace", "")
        output = op_model.output_shape
        result = _element(f"{action}Result", output, body) if output is not None else ""
        document = (
            f'<{action}Response xmlns="{escape(xmlns)}">{result}'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            f"</{action}Response>"
        )
        return _xml(200, document, request_id)


class _InvalidAction(Exception):
    def __init__(self, action: str, version: str) -> None:
        super().__init__(action)
        self.message = f"Could not find operation {action} for version {version}."


def parse_form(raw: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError as exc:
        raise SerializationFailed("The request body is not valid UTF-8 form data.") from exc


def read_form(form: Mapping[str, str], shape: Shape | None) -> Body:
    """The nested parameters a form spells out (``Dimensions.member.1.Name=…``)."""
    if shape is None:
        return {}
    value = _read(form, "", shape)
    return value if isinstance(value, dict) else {}


def _read(form: Mapping[str, str], prefix: str, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "structure":
        found = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            value = _read(form, f"{prefix}{key}" if not prefix else f"{prefix}.{key}", member)
            if value is not None:
                found[name] = value
        return found if found or not prefix else None
    if kind == "list":
        items = []
        flattened = shape.serialization.get("flattened")
        stem = prefix if flattened else f"{prefix}.member"
        index = 1
        while _present(form, f"{stem}.{index}"):
            items.append(_read(form, f"{stem}.{index}", shape.member))
            index += 1
        if not items and form.get(prefix) == "":
            return []  # awsQuery's way of sending an empty list
        return items or None
    if kind == "map":
        entries = {}
        index = 1
        while _present(form, f"{prefix}.entry.{index}"):
            key = form.get(f"{prefix}.entry.{index}.key")
            if key is not None:
                entries[key] = _read(form, f"{prefix}.entry.{index}.value", shape.value)
            index += 1
        return entries or None
    return _scalar(form.get(prefix), shape, prefix)


def _present(form: Mapping[str, str], prefix: str) -> bool:
    return prefix in form or any(key.startswith(prefix + ".") for key in form)


def _scalar(text: str | None, shape: Shape, where: str) -> Any:
    if text is None:
        return None
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("double", "float"):
            return float(text)
    except ValueError as exc:
        raise SerializationFailed(f"The value of {where} is not a number: '{text[:64]}'.") from exc
    if kind == "boolean":
        return text.lower() == "true"
    return text  # strings, ISO 8601 timestamps and base64 blobs, as the JSON wires carry them


def _element(tag: str, shape: Shape, value: Any) -> str:
    if value is None:
        return ""
    kind = shape.type_name
    if kind == "structure":
        inner = "".join(
            _element(member.serialization.get("name", name), member, value.get(name))
            for name, member in shape.members.items()
        )
        return f"<{tag}>{inner}</{tag}>"
    if kind == "list":
        member_tag = shape.member.serialization.get("name", "member")
        return (
            f"<{tag}>{''.join(_element(member_tag, shape.member, item) for item in value)}</{tag}>"
        )
    if kind == "map":
        entries = "".join(
            f"<entry>{_element('key', shape.key, key)}{_element('value', shape.value, item)}"
            "</entry>"
            for key, item in value.items()
        )
        return f"<{tag}>{entries}</{tag}>"
    return f"<{tag}>{escape(_text(value))}</{tag}>"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def error_response(error: WireError, request_id: str | None = None) -> WireResponse:
    request_id = request_id or str(uuid.uuid4())
    fault = "Sender" if error.status < 500 else "Receiver"
    document = (
        f"<ErrorResponse><Error><Type>{fault}</Type><Code>{escape(error.code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return _xml(error.status, document, request_id)


def _xml(status: int, document: str, request_id: str) -> WireResponse:
    headers = {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}
    return WireResponse(status, document.encode(), headers)
