"""``shadowserve replay``: vet a candidate before any live traffic. Production requests that
were captured for an endpoint or an experiment are sent to the candidate — a model (deployed
for the replay alone) or a variant of a running endpoint — and its answers are compared with
the production answers captured beside them, by the same rules as a live experiment.
Production is never called.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shadowserve.comparison import stats
from shadowserve.comparison.aggregate import OutputAggregate
from shadowserve.comparison.outputs import parse_output
from shadowserve.comparison.settings import CompareSettings
from shadowserve.comparison.summary import summarize
from shadowserve.dataplane.noise_probes import FIRST_PROBES
from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import InvalidInput
from shadowserve.domain.resources import EndpointConfig
from shadowserve.metrics.histogram import LogHistogram
from shadowserve.metrics.report import latency_quantiles
from shadowserve.metrics.verdict import verdict
from shadowserve.objectstore import ObjectStore
from shadowserve.services.compare_settings import experiment_settings
from shadowserve.services.context import ControlPlane
from shadowserve.services.endpoint_configs import get_endpoint_config
from shadowserve.services.endpoints import find_endpoint
from shadowserve.services.experiments import active_experiment_on, find_experiment
from shadowserve.services.models import get_model
from shadowserve.services.replay_candidate import Candidate, deployed_model
from shadowserve.services.replay_source import (
    CapturedExchange,
    ReplaySource,
    Reservoir,
    SourceStats,
    exchanges,
)
from shadowserve.services.reports import ReportRequest, report_settings
from shadowserve.services.repository import Repository
from shadowserve.services.runtime import DirectAnswer, VariantCalls

CONCURRENCY = 4  # requests in flight to the candidate
PROGRESS_EVERY = 25  # requests (or records read, while sampling) between progress lines


@dataclass(frozen=True)
class ReplayRequest:
    experiment: str | None = None  # replay what this experiment captured …
    endpoint: str | None = None  # … or what this endpoint's own data capture holds
    candidate_model: str | None = None
    candidate_endpoint: str | None = None  # with candidate_variant: a running variant
    candidate_variant: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    sample: int | None = None
    rate: float | None = None  # requests per second; None: as fast as CONCURRENCY allows
    report: ReportRequest = field(default_factory=ReportRequest)


@dataclass
class Tally:
    outputs: OutputAggregate = field(default_factory=OutputAggregate)
    sent: int = 0
    errors: int = 0
    latency: LogHistogram = field(default_factory=LogHistogram)
    error_examples: list[str] = field(default_factory=list)


def prepare_replay(
    plane: ControlPlane, scope: Scope, request: ReplayRequest, calls: VariantCalls
) -> ReplayJob:
    """Everything checked before a record is read or a worker started."""
    _check(request)
    with plane.repository(scope) as repo:
        source, settings, warnings = _source(repo, request)
        candidate = _candidate(plane, repo, request, source, calls)
    settings = report_settings(settings, request.report.overrides)
    return ReplayJob(request, source, candidate, settings, list(warnings))


def _check(request: ReplayRequest) -> None:
    if (request.experiment is None) == (request.endpoint is None):
        raise InvalidInput("Name either an experiment or an endpoint whose capture to replay.")
    if (request.candidate_model is None) == (request.candidate_variant is None):
        raise InvalidInput("Name the candidate: either a model or a variant of an endpoint.")
    if request.sample is not None and request.sample < 1:
        raise InvalidInput("The sample size must be at least 1.")
    if request.rate is not None and request.rate <= 0:
        raise InvalidInput("The rate must be above 0 requests per second.")
    if request.start and request.end and request.start > request.end:
        raise InvalidInput("The time range ends before it starts.")


def _source(
    repo: Repository, request: ReplayRequest
) -> tuple[ReplaySource, CompareSettings, tuple[str, ...]]:
    base = request.report.base
    if request.experiment is not None:
        experiment = find_experiment(repo, request.experiment).value
        storage = experiment.data_storage_config
        if storage is None:
            raise InvalidInput(f"Inference experiment {experiment.name} has no "
                               "DataStorageConfig: nothing was captured to replay.")  # fmt: skip
        resolved = experiment_settings(repo, experiment.name, base)
        source = ReplaySource(
            storage.destination, experiment.endpoint_name,
            (experiment.production_variant().variant_name,),
            request.start or experiment.schedule.start_time or experiment.creation_time,
            request.end or experiment.completion_time, request.sample,
        )  # fmt: skip
        return source, resolved.settings, resolved.warnings
    assert request.endpoint is not None
    endpoint = find_endpoint(repo, request.endpoint).value
    config = get_endpoint_config(repo, endpoint.endpoint_config_name)
    capture = config.data_capture_config
    if capture is None:
        raise InvalidInput(f"Endpoint {endpoint.endpoint_name} has no DataCaptureConfig: "
                           "nothing was captured to replay.")  # fmt: skip
    variants = tuple(v.variant_name for v in config.production_variants)
    source = ReplaySource(capture.destination_s3_uri, endpoint.endpoint_name, variants,
                          request.start, request.end, request.sample)  # fmt: skip
    return source, base, ()


def _candidate(
    plane: ControlPlane,
    repo: Repository,
    request: ReplayRequest,
    source: ReplaySource,
    calls: VariantCalls,
) -> Candidate:
    if request.candidate_model is not None:
        return deployed_model(get_model(repo, request.candidate_model), plane.runtime, calls)
    name = request.candidate_endpoint or source.endpoint
    endpoint = find_endpoint(repo, name).value
    config = get_endpoint_config(repo, endpoint.endpoint_config_name)
    variant = request.candidate_variant
    assert variant is not None
    if variant not in _variant_names(config) and variant not in _shadow_names(repo, name):
        raise InvalidInput(f"Endpoint {endpoint.endpoint_name} has no variant {variant}.")
    if endpoint.endpoint_name == source.endpoint and variant in source.variants:
        raise InvalidInput(
            f"Variant {variant} is the production variant whose requests are replayed; a "
            "replay never calls production. Name the candidate's variant or model."
        )
    return Candidate(f"variant {variant} of endpoint {endpoint.endpoint_name}", repo.scope,
                     endpoint.endpoint_name, variant, calls)  # fmt: skip


def _variant_names(config: EndpointConfig) -> set[str]:
    variants = config.production_variants + (config.shadow_production_variants or [])
    return {variant.variant_name for variant in variants}


def _shadow_names(repo: Repository, endpoint: str) -> set[str]:
    experiment = active_experiment_on(repo, endpoint)
    return {experiment.shadow_variant().variant_name} if experiment else set()


@dataclass
class ReplayJob:
    request: ReplayRequest
    source: ReplaySource
    candidate: Candidate
    settings: CompareSettings
    warnings: list[str]
    stats: SourceStats = field(default_factory=SourceStats)
    tally: Tally = field(default_factory=Tally)

    def events(self, store: ObjectStore) -> Iterator[dict[str, Any]]:
        """{"progress": …} lines, then {"report": …} (or {"error": …})."""
        found = exchanges(store, self.source, self.stats)
        if self.source.sample is not None:
            reservoir = Reservoir(self.source.sample)
            for seen, exchange in enumerate(found, start=1):
                reservoir.offer(exchange)
                if seen % PROGRESS_EVERY == 0:
                    yield self._progress("reading")
            found = iter(reservoir.kept)
        yield self._progress("starting candidate")
        try:
            self.candidate.start()
        except InvalidInput as exc:
            yield {"error": {"message": exc.message}}
            return
        try:
            yield from self._send(found)
        finally:
            self.candidate.stop()
        yield {"report": self._report()}

    def _send(self, found: Iterator[CapturedExchange]) -> Iterator[dict[str, Any]]:
        pending: deque[tuple[CapturedExchange, Future[tuple[DirectAnswer, DirectAnswer | None]]]]
        pending = deque()
        interval = 1 / self.request.rate if self.request.rate else 0.0
        next_send = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="replay") as pool:
            for index, exchange in enumerate(found):
                if interval:
                    time.sleep(max(0.0, next_send - time.monotonic()))
                    next_send = max(next_send + interval, time.monotonic())
                pending.append((exchange, pool.submit(self._ask, exchange, index < FIRST_PROBES)))
                if len(pending) >= CONCURRENCY:
                    self._finish(*pending.popleft())
                if (index + 1) % PROGRESS_EVERY == 0:
                    yield self._progress("replaying")
            while pending:
                self._finish(*pending.popleft())

    def _ask(
        self, exchange: CapturedExchange, probe: bool
    ) -> tuple[DirectAnswer, DirectAnswer | None]:
        """The candidate's answer; for a noise probe, a second one to the same request."""
        request, accept = exchange.request, exchange.answer.content_type or None
        answer = self.candidate.call(request.data, request.content_type, accept)
        again = None
        if probe and answer.succeeded:
            again = self.candidate.call(request.data, request.content_type, accept)
        return answer, again

    def _finish(
        self,
        exchange: CapturedExchange,
        future: Future[tuple[DirectAnswer, DirectAnswer | None]],
    ) -> None:
        answer, again = future.result()
        tally = self.tally
        tally.sent += 1
        if answer.status:
            tally.latency.add(answer.latency_us)
        if not answer.succeeded:
            tally.errors += 1
            if len(tally.error_examples) < 3:
                text = answer.error or answer.body[:200].decode("utf-8", "replace")
                tally.error_examples.append(f"{exchange.inference_id}: {answer.status} {text}")
            return
        production = parse_output(exchange.answer.data, exchange.answer.content_type)
        candidate = parse_output(answer.body, answer.content_type)
        tally.outputs.add_pair(production, candidate, self.settings)
        if again is not None and again.succeeded:
            tally.outputs.add_probe(candidate, parse_output(again.body, again.content_type),
                                    self.settings)  # fmt: skip

    def _progress(self, phase: str) -> dict[str, Any]:
        stats = self.stats
        return {"progress": {
            "phase": phase, "bytes_read": stats.bytes_read, "bytes_total": stats.bytes_total,
            "records": stats.records, "sent": self.tally.sent,
            "to_send": self.source.sample if self.source.sample is not None else None,
        }}  # fmt: skip

    def _report(self) -> dict[str, Any]:
        thresholds = self.request.report.thresholds
        confidence = thresholds.confidence
        tally, stats_ = self.tally, self.stats
        error_rate = stats.proportion(tally.errors, tally.sent, confidence)
        outputs = summarize(tally.outputs, self.settings, confidence)
        comparison = {
            "pairs": tally.outputs.compared,
            "output_agreement": outputs["output_agreement"],
            "latency_ratio_median": None,  # production's latency is not captured
            "outputs": outputs,
        }
        # Captured production answers are successes: the candidate's errors are all new.
        variants = {"production": {"error_rate": stats.proportion(0, tally.sent, confidence)},
                    "shadow": {"error_rate": error_rate}}  # fmt: skip
        warnings = (
            self.warnings
            + stats_.unreadable.warnings()
            + [f"Candidate error: {example}" for example in tally.error_examples]
        )
        if not stats_.records:
            warnings.append(f"No captured request found under {self.source.destination} for "
                            f"endpoint {self.source.endpoint} in the time range.")  # fmt: skip
        if stats_.without_request:
            warnings.append(f"{stats_.without_request} captured records carry no request "
                            "(capture without Input) and were not replayed.")  # fmt: skip
        return {
            "replay": {
                "source": {"destination": self.source.destination,
                           "endpoint": self.source.endpoint,
                           "variants": list(self.source.variants),
                           "experiment": self.request.experiment},
                "candidate": self.candidate.description,
                "window": [_iso(self.source.start), _iso(self.source.end)],
                "files": stats_.files, "records": stats_.records, "sample": self.source.sample,
                "sent": tally.sent, "errors": tally.errors, "rate": self.request.rate,
            },
            "settings": self.settings.to_json(),
            "warnings": warnings,
            "candidate": {"error_rate": error_rate,
                          "model_latency_ms": latency_quantiles(tally.latency, confidence)},
            "comparison": comparison,
            "verdict": verdict(variants, comparison, self.settings.mode, thresholds),
        }  # fmt: skip


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
