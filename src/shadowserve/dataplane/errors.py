"""Errors of SageMaker Runtime's InvokeEndpoint, as the data plane raises them: a code and
words; their HTTP statuses are the runtime wire's (protocol/runtime_api.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class InvokeError(Exception):
    code: str
    message: str
    extra: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def validation_error(message: str) -> InvokeError:
    return InvokeError("ValidationError", message)


def model_not_ready(message: str) -> InvokeError:
    return InvokeError("ModelNotReadyException", message)


def service_unavailable(message: str) -> InvokeError:
    return InvokeError("ServiceUnavailable", message)


def model_stream_error(message: str, timed_out: bool) -> InvokeError:
    """A failure after the stream began, sent as the stream's last event, with SageMaker's
    error codes: ModelInvocationTimeExceeded or StreamBroken."""
    code = "ModelInvocationTimeExceeded" if timed_out else "StreamBroken"
    return InvokeError("ModelStreamError", message, {"ErrorCode": code})


def model_error(
    status: int, original_message: str, message: str, log_stream_arn: str
) -> InvokeError:
    kind = "CLIENT_ERROR_FROM_MODEL" if 400 <= status < 500 else "SERVER_ERROR_FROM_MODEL"
    return InvokeError(
        "ModelError",
        message,
        {
            "ErrorCode": kind,
            "OriginalStatusCode": status,
            "OriginalMessage": original_message,
            "LogStreamArn": log_stream_arn,
        },
    )
