"""Long server-side jobs (recompute from capture, replay) answer NDJSON: progress lines, then
the report. This follows such an answer, handing each progress line to a callback."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
import httpx

READ_TIMEOUT = 600.0  # seconds between two lines (a slow candidate, a large capture file)


def follow(
    url: str,
    params: dict[str, str],
    body: dict[str, Any] | None,
    on_progress: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """The job's report; ClickException with the server's message if it fails."""
    timeout = httpx.Timeout(30, read=READ_TIMEOUT)
    try:
        with httpx.stream("POST", url, params=params, json=body, timeout=timeout) as response:
            if response.status_code != 200:
                response.read()
                raise click.ClickException(_message(response))
            for line in response.iter_lines():
                event = json.loads(line)
                if "progress" in event:
                    on_progress(event["progress"])
                elif "error" in event:
                    raise click.ClickException(event["error"]["message"])
                elif "report" in event:
                    report: dict[str, Any] = event["report"]
                    return report
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach shadowserve at {url}: {exc}") from exc
    raise click.ClickException("the server ended the job without a report")


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return response.text
