"""The JSON the dashboard and the CLI read, and the dashboard's pages:

- ``GET /api/overview``: experiments and endpoints
- ``GET /api/experiments/{name}/report``: the comparison report
- ``POST /api/experiments/{name}/report/from-capture``: the same, outputs recompared from
  capture (NDJSON: progress lines, then the report)
- ``POST /api/replays``: replay captured production requests to a candidate (NDJSON too)
- ``/ui/``: the dashboard (static pages shipped in the package)

Report settings and thresholds are query parameters named like their fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from importlib.resources import files
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from shadowserve.comparison.settings import CompareSettings, Overrides
from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import DomainError, ResourceNotFound
from shadowserve.metrics.verdict import Thresholds
from shadowserve.objectstore import ObjectStore
from shadowserve.protocol import awsjson
from shadowserve.services import capture_report, overview, replay, reports
from shadowserve.services.context import ControlPlane
from shadowserve.services.runtime import VariantCalls

# The dashboard: static pages and vendored assets shipped inside the package.
UI_DIRECTORY = str(files("shadowserve") / "ui" / "static")
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class ApiDependencies:
    plane: ControlPlane
    compare_defaults: CompareSettings  # the server's, where an experiment's tags say nothing
    objects: ObjectStore  # where capture is read from
    calls: VariantCalls  # direct calls to variants, for replays
    shadow_niceness: int = 0  # added to shadow workers' nice value (a report's caveat)


class ReplayBody(BaseModel):
    """POST /api/replays: what to replay and to which candidate."""

    model_config = ConfigDict(extra="forbid")
    experiment: str | None = None
    endpoint: str | None = None
    candidate_model: str | None = None
    candidate_endpoint: str | None = None
    candidate_variant: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    sample: int | None = Field(default=None, ge=1)
    rate: float | None = Field(default=None, gt=0)


def api_routes(account: str, api: ApiDependencies) -> list[BaseRoute]:
    handlers = ApiHandlers(account, api)
    return [
        Route("/api/experiments/{name}/report", handlers.report, methods=["GET"]),
        Route("/api/experiments/{name}/report/from-capture", handlers.report_from_capture,
              methods=["POST"]),
        Route("/api/replays", handlers.replays, methods=["POST"]),
        Route("/api/overview", handlers.overview, methods=["GET"]),
        Route("/ui", lambda _request: RedirectResponse("/ui/"), methods=["GET"]),
        Mount("/ui", StaticFiles(directory=UI_DIRECTORY, html=True), name="ui"),
    ]  # fmt: skip


class ApiHandlers:
    """One method a route; each calls one service function off the event loop."""

    def __init__(self, account: str, api: ApiDependencies) -> None:
        self._account = account
        self._api = api

    async def report(self, request: Request) -> Response:
        try:
            body = await run_in_threadpool(
                reports.experiment_report, self._api.plane, self._scope(request),
                request.path_params["name"], self._report_request(request),
            )  # fmt: skip
        except (DomainError, ValueError) as exc:
            return _api_error(exc)
        return JSONResponse(body)

    async def report_from_capture(self, request: Request) -> Response:
        try:
            job = await run_in_threadpool(
                capture_report.capture_report, self._api.plane, self._scope(request),
                request.path_params["name"], self._report_request(request),
            )  # fmt: skip
        except (DomainError, ValueError) as exc:
            return _api_error(exc)
        return _ndjson(job.events(self._api.objects))

    async def replays(self, request: Request) -> Response:
        try:
            body = ReplayBody.model_validate_json(await _small_body(request))
            wanted = replay.ReplayRequest(**body.model_dump(), report=self._report_request(request))
            job = await run_in_threadpool(
                replay.prepare_replay, self._api.plane, self._scope(request), wanted,
                self._api.calls,
            )  # fmt: skip
        except ValidationError as exc:
            return JSONResponse({"message": _validation_text(exc)}, status_code=400)
        except (DomainError, ValueError) as exc:
            return _api_error(exc)
        return _ndjson(job.events(self._api.objects))

    async def overview(self, request: Request) -> Response:
        body = await run_in_threadpool(overview.overview, self._api.plane, self._scope(request))
        return JSONResponse(body)

    def _scope(self, request: Request) -> Scope:
        return Scope(self._account, request.query_params.get("region", awsjson.DEFAULT_REGION))

    def _report_request(self, request: Request) -> reports.ReportRequest:
        query = request.query_params
        return reports.ReportRequest(thresholds_from(query), self._api.compare_defaults,
                                     overrides_from(query), self._api.shadow_niceness)  # fmt: skip


def thresholds_from(query: Mapping[str, str]) -> Thresholds:
    """Report thresholds from query parameters named like the fields (min_pairs=200)."""
    values: dict[str, Any] = {}
    for field in fields(Thresholds):
        if field.name in query:
            kind = int if field.type in ("int", int) else float
            try:
                values[field.name] = kind(query[field.name])
            except ValueError:
                raise ValueError(
                    f"Invalid threshold: {field.name}={query[field.name]!r} is not a number."
                ) from None
    return Thresholds(**values)


def overrides_from(query: Mapping[str, str]) -> Overrides:
    """Comparison settings for one report (compare_mode, ignore, tolerance, label_threshold),
    as text; they are parsed, and refused with a clear message, by the report itself."""
    return Overrides(
        mode=query.get("compare_mode"),
        ignore=query.get("ignore"),
        tolerance=query.get("tolerance"),
        label_threshold=query.get("label_threshold"),
    )


def _ndjson(events: Iterator[dict[str, Any]]) -> StreamingResponse:
    # A sync iterator: Starlette reads it in a worker thread, off the event loop.
    lines = (json.dumps(event).encode() + b"\n" for event in events)
    return StreamingResponse(lines, media_type="application/x-ndjson")


async def _small_body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ValueError(f"The request body exceeds {MAX_BODY} bytes.")
    return body or b"{}"


def _validation_text(error: ValidationError) -> str:
    problems = [f"{'.'.join(str(p) for p in item['loc']) or 'body'}: {item['msg']}"
                for item in error.errors()]  # fmt: skip
    return "Invalid replay request: " + "; ".join(problems)


def _api_error(error: Exception) -> JSONResponse:
    if isinstance(error, DomainError):
        status = 404 if isinstance(error, ResourceNotFound) else 400
        return JSONResponse({"message": error.message}, status_code=status)
    return JSONResponse({"message": str(error)}, status_code=400)
