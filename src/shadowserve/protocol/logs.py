"""CloudWatch Logs' reads of endpoint logs (awsJson 1.1, target prefix Logs_20140328):
DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents — what SDKs'
``deploy()``, ``aws logs get-log-events`` and ``aws logs tail --follow`` call."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from shadowserve.domain.arns import Scope, log_group_arn
from shadowserve.domain.errors import CodedError
from shadowserve.logs.patterns import UnsupportedPattern, compile_pattern
from shadowserve.logs.store import LogEvent, LogStore, StreamInfo

Body = dict[str, Any]
Handler = Callable[[LogStore, Scope, Body], Body]
MAX_EVENTS = 10_000  # per GetLogEvents / FilterLogEvents page, as CloudWatch
MAX_DESCRIBED = 50


class InvalidParameter(CodedError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterException", message)


class ResourceNotFound(CodedError):
    def __init__(self, message: str) -> None:
        super().__init__("ResourceNotFoundException", message)


def describe_log_groups(logs: LogStore, scope: Scope, body: Body) -> Body:
    prefix = body.get("logGroupNamePrefix") or ""
    pattern = body.get("logGroupNamePattern")
    if prefix and pattern:
        raise InvalidParameter("LogGroup name prefix and LogGroup name pattern are mutually "
                               "exclusive parameters.")  # fmt: skip
    identifiers = set(body.get("logGroupIdentifiers") or [])
    groups = [
        {
            "logGroupName": name,
            "creationTime": created,
            "metricFilterCount": 0,
            "arn": log_group_arn(scope, name) + ":*",
            "logGroupArn": log_group_arn(scope, name),
            "storedBytes": size,
            "logGroupClass": "STANDARD",
        }
        for name, created, size in logs.groups(scope)
        if name.startswith(prefix)
        and (pattern is None or pattern in name)
        and (not identifiers or name in identifiers or log_group_arn(scope, name) in identifiers)
    ]
    return _paged("logGroups", groups, body, MAX_DESCRIBED)


def describe_log_streams(logs: LogStore, scope: Scope, body: Body) -> Body:
    group = _group(logs, scope, body)
    prefix = body.get("logStreamNamePrefix") or ""
    by_time = body.get("orderBy") == "LastEventTime"
    if prefix and by_time:
        raise InvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
    streams = [info for info in logs.streams(scope, group) if info.name.startswith(prefix)]
    if by_time:
        streams.sort(key=lambda info: info.last_event or 0)
    if body.get("descending"):
        streams.reverse()
    described = [_stream(scope, group, info) for info in streams]
    return _paged("logStreams", described, body, MAX_DESCRIBED)


def get_log_events(logs: LogStore, scope: Scope, body: Body) -> Body:
    group = _group(logs, scope, body)
    stream = body["logStreamName"]
    if stream not in logs.stream_names(scope, group):
        raise ResourceNotFound("The specified log stream does not exist.")
    limit = _limit(body, MAX_EVENTS)
    events = [e for e in logs.events(scope, group, stream) if _within(e, body)]
    token = body.get("nextToken")
    direction, position = _position(token) if token else ("", 0)
    if direction == "f":
        page = [e for e in events if e.number > position][:limit]
    elif direction == "b":
        page = [e for e in events if e.number < position][-limit:]
    else:
        page = events[:limit] if body.get("startFromHead") else events[-limit:]
    if page:
        forward, backward = page[-1].number, page[0].number
    else:
        # Nothing (more) to read: the token given comes back, so clients stop when it repeats.
        forward = position if direction == "f" else (events[-1].number if events else 0)
        backward = position if direction == "b" else (events[0].number if events else 1)
    return {
        "events": [
            {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}
            for e in page
        ],
        "nextForwardToken": f"f/{forward:056d}",
        "nextBackwardToken": f"b/{backward:056d}",
    }


def filter_log_events(logs: LogStore, scope: Scope, body: Body) -> Body:
    group = _group(logs, scope, body)
    names, prefix = body.get("logStreamNames"), body.get("logStreamNamePrefix")
    if names and prefix:
        raise InvalidParameter("logStreamNames and logStreamNamePrefix are mutually "
                               "exclusive parameters.")  # fmt: skip
    try:
        matches = compile_pattern(body.get("filterPattern"))
    except UnsupportedPattern as exc:
        raise InvalidParameter(str(exc)) from exc
    streams = [
        name
        for name in logs.stream_names(scope, group)
        if (not names or name in names) and name.startswith(prefix or "")
    ]
    after = _filter_position(body.get("nextToken"))
    found = sorted(
        (event.timestamp, stream, event.number, event)
        for stream in streams
        for event in logs.events(scope, group, stream)
        if _within(event, body) and matches(event.message)
    )
    remaining = [item for item in found if after is None or item[:3] > after]
    limit = _limit(body, MAX_EVENTS)
    page = remaining[:limit]
    answer: Body = {
        "events": [_filtered(stream, event) for _, stream, _, event in page],
        "searchedLogStreams": [
            {"logStreamName": name, "searchedCompletely": True} for name in streams
        ],
    }
    if len(remaining) > limit:
        last = page[-1]
        answer["nextToken"] = _token({"after": [last[0], last[1], last[2]]})
    return answer


def _filtered(stream: str, event: LogEvent) -> Body:
    return {
        "logStreamName": stream,
        "timestamp": event.timestamp,
        "message": event.message,
        "ingestionTime": event.ingestion_time,
        # Unique in the group and stable across calls: `aws logs tail --follow` dedupes by it.
        "eventId": f"{event.timestamp:020d}{zlib.crc32(stream.encode()):010d}{event.number:020d}",
    }


def _stream(scope: Scope, group: str, info: StreamInfo) -> Body:
    described: Body = {
        "logStreamName": info.name,
        "creationTime": info.creation_time,
        "arn": f"{log_group_arn(scope, group)}:log-stream:{info.name}",
        "storedBytes": info.stored_bytes,
    }
    if info.first_event is not None:
        described["firstEventTimestamp"] = info.first_event
        described["lastEventTimestamp"] = info.last_event
        described["lastIngestionTime"] = info.last_ingestion
    return described


def _group(logs: LogStore, scope: Scope, body: Body) -> str:
    name, identifier = body.get("logGroupName"), body.get("logGroupIdentifier")
    if name and identifier:
        raise InvalidParameter("LogGroup name and LogGroup ARN are mutually exclusive "
                               "parameters.")  # fmt: skip
    group = name or _group_of(identifier or "")
    if not group:
        raise InvalidParameter("Either logGroupName or logGroupIdentifier is required.")
    if not logs.has_group(scope, group):
        raise ResourceNotFound("The specified log group does not exist.")
    return group


def _group_of(identifier: str) -> str:
    """A group's name from its ARN (``arn:aws:logs:r:a:log-group:NAME[:*]``) or name."""
    if identifier.startswith("arn:"):
        name = identifier.split(":log-group:", 1)[-1]
        return name.removesuffix(":*")
    return identifier


def _within(event: LogEvent, body: Body) -> bool:
    start, end = body.get("startTime"), body.get("endTime")
    return (start is None or event.timestamp >= start) and (end is None or event.timestamp <= end)


def _limit(body: Body, maximum: int) -> int:
    limit = body.get("limit")
    if limit is None:
        return maximum
    if not 1 <= limit <= maximum:
        raise InvalidParameter(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            f"constraint: Member must have value less than or equal to {maximum}"
        )
    return int(limit)


def _position(token: str) -> tuple[str, int]:
    direction, _, number = token.partition("/")
    if direction not in ("f", "b") or not number.isdigit():
        raise InvalidParameter("The specified nextToken is invalid.")
    return direction, int(number)


def _token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _filter_position(token: str | None) -> tuple[int, str, int] | None:
    if token is None:
        return None
    try:
        timestamp, stream, number = json.loads(base64.urlsafe_b64decode(token))["after"]
        return int(timestamp), str(stream), int(number)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidParameter("The specified nextToken is invalid.") from exc


def _paged(key: str, items: Iterable[Body], body: Body, maximum: int) -> Body:
    listed = list(items)
    limit = _limit(body, maximum)
    start = 0
    if body.get("nextToken"):
        try:
            start = int(json.loads(base64.urlsafe_b64decode(body["nextToken"]))["offset"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidParameter("The specified nextToken is invalid.") from exc
    page: Body = {key: listed[start : start + limit]}
    if start + limit < len(listed):
        page["nextToken"] = _token({"offset": start + limit})
    return page


OPERATIONS: dict[str, Handler] = {
    "DescribeLogGroups": describe_log_groups,
    "DescribeLogStreams": describe_log_streams,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
}
