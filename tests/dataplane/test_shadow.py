"""Shadow mirroring: sampled copies go to the shadow, production never waits for it."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shadowserve.cli.server_process import ServerProcess
from tests.conftest import FAST
from tests.dataplane.test_metrics_report import _settled
from tests.dataplane_fixtures import SHADOW_TIMEOUT, Models
from tests.dataplane_support import wait_until, worker_pids


def _setup(models: Models, sampling: int = 100, **shadow_env: str) -> tuple[str, str]:
    production = models.model(environment={"SCALE": "2"})
    shadow = models.model(environment={"SCALE": "3", **shadow_env})
    endpoint = models.endpoint(production)
    return endpoint, models.experiment(endpoint, production, shadow, sampling)


def _timed_invoke(models: Models, endpoint: str, value: float, **kwargs: Any) -> float:
    started = time.monotonic()
    body, response = models.invoke(endpoint, [value], **kwargs)
    elapsed = time.monotonic() - started
    assert body == [value * 2]  # always the production model's answer
    assert response["InvokedProductionVariant"] == "AllTraffic"
    return elapsed


def test_events_of_both_legs_pair_up(models: Models) -> None:
    endpoint, experiment = _setup(models)
    ids = [f"pair-{i}" for i in range(3)]
    for index, inference_id in enumerate(ids):
        _timed_invoke(models, endpoint, index + 1, InferenceId=inference_id)
        time.sleep(0.1)  # one at a time, so the small shadow queue never overflows
    _timed_invoke(models, endpoint, 9)  # no InferenceId: one is generated for both legs
    events = wait_until(lambda: _complete_pairs(models.events(endpoint), 4), timeout=20)
    by_id = {e["inferenceId"] for e in events}
    assert set(ids) <= by_id
    for inference_id in by_id:
        legs = {e["role"]: e for e in events if e["inferenceId"] == inference_id}
        production, shadow = legs["production"], legs["shadow"]
        assert (production["variant"], shadow["variant"]) == ("AllTraffic", "shadow")
        assert production["experiment"] == shadow["experiment"] == experiment
        assert production["requestSha256"] == shadow["requestSha256"]
        assert production["responseSha256"] != shadow["responseSha256"]  # x2 versus x3
        assert shadow["status"] == production["status"] == 200
        assert shadow["modelLatencyUs"] > 0


def _complete_pairs(events: list[dict[str, Any]], count: int) -> list[dict[str, Any]] | None:
    roles: dict[str, set[str]] = {}
    for event in events:
        roles.setdefault(event["inferenceId"], set()).add(event["role"])
    complete = [i for i, r in roles.items() if r == {"production", "shadow"}]
    return events if len(complete) >= count else None


GATED_MODEL = """
    import os, pathlib, time

    def model_fn(model_dir):
        return float(os.environ.get("SCALE", "2"))

    def predict_fn(data, scale):
        arrived, gate = os.environ.get("ARRIVED"), os.environ.get("WAIT_FOR")
        if arrived:  # tells the test the request has reached this model
            pathlib.Path(arrived).touch()
        while gate and not pathlib.Path(gate).exists():  # held until the test lets it go
            time.sleep(0.02)
        return [x * scale for x in data]
"""


def test_a_slow_shadow_never_delays_production(models: Models, tmp_path: Path) -> None:
    """The shadow is held back until the test opens its gate: every production call has
    answered while no copy could (no clock involved)."""
    gate = tmp_path / "open"
    production = models.model(environment={"SCALE": "2"})
    shadow = models.model(GATED_MODEL, environment={"SCALE": "3", "WAIT_FOR": str(gate)})
    endpoint = models.endpoint(production)
    models.experiment(endpoint, production, shadow)
    for value in range(10):
        _timed_invoke(models, endpoint, value)
    assert models.shadow_count(endpoint, "sampled") == 10
    assert models.shadow_count(endpoint, "succeeded") == 0  # all of them still held
    gate.touch()
    wait_until(
        lambda: (
            models.shadow_count(endpoint, "sent") + models.shadow_count(endpoint, "dropped") == 10
        ),
        timeout=20,
    )


def test_the_copy_goes_out_only_once_production_has_answered(
    models: Models, tmp_path: Path
) -> None:
    """Production is held until the test opens its gate; while it is held no copy has been
    made, so a request never waits behind its own shadow's call."""
    arrived, gate = tmp_path / "arrived", tmp_path / "open"
    production = models.model(GATED_MODEL, environment={
        "SCALE": "2", "ARRIVED": str(arrived), "WAIT_FOR": str(gate)})  # fmt: skip
    shadow = models.model(environment={"SCALE": "3"})
    endpoint = models.endpoint(production)
    models.experiment(endpoint, production, shadow)
    answered: list[float] = []
    caller = threading.Thread(target=lambda: answered.append(_timed_invoke(models, endpoint, 4)))
    caller.start()
    wait_until(arrived.exists, timeout=20)
    assert models.shadow_count(endpoint, "sampled") == 0
    gate.touch()
    caller.join(30)
    assert answered
    wait_until(lambda: models.shadow_count(endpoint, "succeeded") == 1, timeout=20)
    assert models.shadow_count(endpoint, "sampled") == 1


def test_a_failing_shadow_is_counted_and_invisible_to_callers(models: Models) -> None:
    endpoint, _ = _setup(models, FAIL="1")
    for i in range(4):
        _timed_invoke(models, endpoint, i)
        time.sleep(0.05)
    wait_until(lambda: models.shadow_count(endpoint, "model_error") == 4, timeout=20)


def test_a_hanging_shadow_times_out_and_overflow_is_dropped(models: Models) -> None:
    endpoint, _ = _setup(models, SLEEP="1000")
    latencies = [_timed_invoke(models, endpoint, i) for i in range(12)]
    # The copies hang for 1000 s; production never waited even for one to time out.
    assert max(latencies) < SHADOW_TIMEOUT, latencies
    # 4 calls in flight and 4 waiting (the server's bounds); the other 4 are dropped at once.
    assert models.shadow_count(endpoint, "dropped") == 4
    wait_until(
        lambda: models.shadow_count(endpoint, "timeout") == 8, timeout=4 * SHADOW_TIMEOUT + 10
    )
    # The event log is written in batches (--event-batch-seconds): wait for the last ones.
    events = wait_until(lambda: [e for e in models.events(endpoint) if e["role"] == "shadow"]
                        if len(models.events(endpoint)) >= 24 else None)  # fmt: skip
    assert sorted(e["errorKind"] for e in events) == ["dropped"] * 4 + ["timeout"] * 8


def test_a_shadow_killed_mid_run_harms_no_production_call(models: Models) -> None:
    endpoint, _ = _setup(models, SLEEP="0.2")
    data_dir = models.server.data_dir
    before = wait_until(lambda: worker_pids(data_dir, f"/{endpoint}/shadow/"))
    errors: list[BaseException] = []

    def traffic() -> None:
        try:
            for i in range(30):
                _timed_invoke(models, endpoint, i)
                time.sleep(0.03)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=traffic)
    thread.start()
    time.sleep(0.4)
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    thread.join(60)
    assert errors == []
    failed = sum(
        models.shadow_count(endpoint, outcome)
        for outcome in ("connection_error", "no_instance", "timeout")
    )
    assert failed >= 1
    # The supervisor starts a new shadow worker, and copies succeed again.
    after = wait_until(
        lambda: [p for p in worker_pids(data_dir, f"/{endpoint}/shadow/") if p not in before]
    )
    assert after
    succeeded = models.shadow_count(endpoint, "succeeded")

    def recovered() -> bool:
        _timed_invoke(models, endpoint, 1)
        return models.shadow_count(endpoint, "succeeded") > succeeded

    wait_until(recovered, timeout=30, interval=0.5)


def test_sampling_changes_take_effect_on_live_traffic(models: Models) -> None:
    endpoint, experiment = _setup(models, sampling=0)
    for i in range(5):
        _timed_invoke(models, endpoint, i)
    assert models.shadow_count(endpoint, "sampled") == 0
    models.sagemaker.update_inference_experiment(
        Name=experiment,
        ShadowModeConfig={"SourceModelVariantName": "AllTraffic", "ShadowModelVariants": [
            {"ShadowModelVariantName": "shadow", "SamplingPercentage": 100}]},
    )  # fmt: skip

    def mirrored() -> bool:
        _timed_invoke(models, endpoint, 1)
        return models.shadow_count(endpoint, "sampled") > 0

    wait_until(mirrored, timeout=20, interval=0.2)


def test_inference_ids_are_sampled_deterministically(models: Models) -> None:
    endpoint, _ = _setup(models, sampling=50)
    ids = [f"{uuid.uuid4()}" for _ in range(30)]
    rounds = []
    for _ in range(2):
        start = len(models.events(endpoint))
        for inference_id in ids:
            _timed_invoke(models, endpoint, 1, InferenceId=inference_id)
            time.sleep(0.02)
        time.sleep(1)
        new = models.events(endpoint)[start:]
        rounds.append({e["inferenceId"] for e in new if e["role"] == "shadow"})
    assert rounds[0] == rounds[1]
    assert 0 < len(rounds[0]) < len(ids)


def test_large_payloads_are_mirrored_too(models: Models) -> None:
    endpoint, _ = _setup(models)
    values = [0.5] * 1_150_000  # about 5.7 MB of JSON, under the 6 MB limit
    body, _ = models.invoke(endpoint, values, InferenceId="large-1")
    assert len(body) == len(values)

    def shadow_event() -> dict[str, Any] | None:
        for event in models.events(endpoint):
            if event["inferenceId"] == "large-1" and event["role"] == "shadow":
                return event
        return None

    event = wait_until(shadow_event, timeout=30)
    assert event["status"] == 200
    assert event["requestBytes"] > 5_500_000


def test_a_new_production_model_serves_during_the_experiment_and_after(models: Models) -> None:
    """AWS's shadow-test example names, as the experiment's production model, a model the
    endpoint did not serve: it is deployed to the production variant while the experiment
    runs, and kept when the experiment completes with production retained."""
    before = models.model(environment={"SCALE": "2"})
    newer = models.model(environment={"SCALE": "5"})
    shadow = models.model(environment={"SCALE": "3"})
    endpoint = models.endpoint(before)
    assert models.invoke(endpoint, [1])[0] == [2.0]
    experiment = models.experiment(endpoint, newer, shadow)
    models.wait_in_service(endpoint)
    assert models.invoke(endpoint, [1])[0] == [5.0]  # the experiment's production model
    models.sagemaker.stop_inference_experiment(
        Name=experiment, ModelVariantActions={"AllTraffic": "Retain", "shadow": "Remove"}
    )
    wait_until(lambda: models.sagemaker.describe_inference_experiment(Name=experiment)[
        "Status"] == "Completed", timeout=60)  # fmt: skip
    described = models.wait_in_service(endpoint)
    config = models.sagemaker.describe_endpoint_config(
        EndpointConfigName=described["EndpointConfigName"]
    )
    assert [v["ModelName"] for v in config["ProductionVariants"]] == [newer]
    assert "ShadowProductionVariants" not in described
    assert models.invoke(endpoint, [1])[0] == [5.0]


class _Recorder(BaseHTTPRequestHandler):
    """A container that answers 200 and remembers the headers of every invocation."""

    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.seen.append({key.lower(): value for key, value in self.headers.items()})
        self._answer()

    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: Any) -> None:
        pass


def _recording_model(models: Models) -> tuple[str, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    name = f"rec-{uuid.uuid4().hex[:8]}"
    models.sagemaker.create_model(
        ModelName=name, PrimaryContainer={"Image": f"http://127.0.0.1:{http.server_address[1]}"}
    )
    return name, seen


def test_the_shadow_is_told_and_redacted_attributes_never_reach_it(models: Models) -> None:
    production, at_production = _recording_model(models)
    shadow, at_shadow = _recording_model(models)
    endpoint = models.endpoint(production)
    tag = {"Key": "shadowserve:redact-custom-attributes", "Value": "user_id session"}
    experiment = models.experiment(endpoint, production, shadow, Tags=[tag])
    models.invoke(endpoint, {}, CustomAttributes="trace=abc,user_id=42;session=s1",
                  InferenceId="redact-1")  # fmt: skip
    wait_until(lambda: at_shadow)
    production_call, shadow_call = at_production[-1], at_shadow[-1]
    assert production_call["x-amzn-sagemaker-custom-attributes"] == (
        "trace=abc,user_id=42;session=s1"
    )
    assert shadow_call["x-amzn-sagemaker-custom-attributes"] == "trace=abc"
    assert production_call["x-amzn-sagemaker-inference-id"] == "redact-1"
    assert shadow_call["x-amzn-sagemaker-inference-id"] == "redact-1"
    assert "x-shadowserve-shadow" not in production_call
    assert shadow_call["x-shadowserve-shadow"] == "true"
    assert shadow_call["x-shadowserve-experiment"] == experiment
    # A redaction tag that is not a list of keys is refused where it is set.
    arn = models.sagemaker.describe_inference_experiment(Name=experiment)["Arn"]
    with pytest.raises(ClientError) as caught:
        models.sagemaker.add_tags(ResourceArn=arn, Tags=[{**tag, "Value": "no=keys"}])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "shadowserve:redact-custom-attributes" in caught.value.response["Error"]["Message"]


def _shadow_legs(models: Models, endpoint: str) -> int:
    return len([e for e in models.events(endpoint) if e["role"] == "shadow"])


def _ended(models: Models, experiment: str) -> dict[str, Any]:
    described: dict[str, Any] = wait_until(
        lambda: (d := models.sagemaker.describe_inference_experiment(Name=experiment))[
            "Status"] in ("Completed", "Cancelled") and d, timeout=60)  # fmt: skip
    return described


def test_deleting_a_model_the_experiment_runs_never_strands_the_shadow(models: Models) -> None:
    """Deleting a model leaves what runs untouched (as in SageMaker); the experiment still
    stops, and once it has, nothing is mirrored any more."""
    production = models.model()
    shadow = models.model(environment={"SCALE": "3"})
    endpoint = models.endpoint(production)
    experiment = models.experiment(endpoint, production, shadow)
    models.wait_in_service(endpoint)
    for name in (production, shadow):
        models.sagemaker.delete_model(ModelName=name)
    assert models.invoke(endpoint, [1])[0] == [2.0]
    wait_until(lambda: _shadow_legs(models, endpoint) == 1)
    models.sagemaker.stop_inference_experiment(
        Name=experiment, ModelVariantActions={"AllTraffic": "Retain", "shadow": "Remove"}
    )
    assert _ended(models, experiment)["Status"] == "Completed"
    described = models.wait_in_service(endpoint)
    assert "ShadowProductionVariants" not in described
    models.invoke(endpoint, [2], InferenceId="after-the-end")
    wait_until(lambda: any(e["inferenceId"] == "after-the-end" for e in models.events(endpoint)))
    assert _shadow_legs(models, endpoint) == 1  # the copy before the stop, and no other


def test_a_stop_that_cannot_deploy_its_outcome_still_removes_the_shadow(models: Models) -> None:
    """Cancelled restores the model from before the experiment; that model is gone, so the
    outcome cannot be deployed. The shadow comes off anyway, production keeps running as it
    ran, and the experiment says so."""
    before = models.model()
    newer = models.model(environment={"SCALE": "5"})
    shadow = models.model(environment={"SCALE": "3"})
    endpoint = models.endpoint(before)
    experiment = models.experiment(endpoint, newer, shadow)
    models.wait_in_service(endpoint)
    models.sagemaker.delete_model(ModelName=before)
    models.sagemaker.stop_inference_experiment(
        Name=experiment, ModelVariantActions={"shadow": "Remove"}, DesiredState="Cancelled"
    )
    ended = _ended(models, experiment)
    assert ended["Status"] == "Cancelled"
    assert f"Model {before} does not exist." in ended["StatusReason"]
    assert "The shadow variant was removed" in ended["StatusReason"]
    described = models.wait_in_service(endpoint)
    assert "ShadowProductionVariants" not in described
    assert models.invoke(endpoint, [1])[0] == [5.0]
    assert _shadow_legs(models, endpoint) == 0


def _nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_shadow_workers_yield_the_cpu_to_production(models: Models, data_dir: Path) -> None:
    endpoint, _ = _setup(models)
    production = worker_pids(data_dir, f"{endpoint}/AllTraffic/")
    shadow = worker_pids(data_dir, f"{endpoint}/shadow/")
    assert production and shadow
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert {_nice(pid) for pid in production} == {own}
    assert {_nice(pid) for pid in shadow} == {min(19, own + 10)}  # --shadow-niceness 10
    # A restarted shadow worker is lowered again.
    os.kill(shadow[0], signal.SIGKILL)
    restarted = wait_until(lambda: [p for p in worker_pids(data_dir, f"{endpoint}/shadow/")
                                    if p != shadow[0]], timeout=30)  # fmt: skip
    assert {_nice(pid) for pid in restarted} == {min(19, own + 10)}


def test_a_report_failing_on_latency_says_the_shadow_yields_the_cpu(models: Models) -> None:
    """On a busy machine a shadow's latency is partly its wait for the CPU (beside
    production's next request, and more so at +10 nice): a failed latency check says so (a
    shadow three times slower fails it on any host)."""
    production = models.model(environment={"SCALE": "2", "SLEEP": "0.005"})
    shadow = models.model(environment={"SCALE": "3", "SLEEP": "0.015"})
    endpoint = models.endpoint(production)
    experiment = models.experiment(endpoint, production, shadow)
    for value in range(30):  # one at a time, so the one shadow worker drops none
        _timed_invoke(models, endpoint, value)
        wait_until(lambda done=value + 1: models.shadow_count(endpoint, "succeeded") == done)
    settled = _settled(models, experiment, 30, min_pairs=20)
    latency = next(c for c in settled["verdict"]["checks"] if c["name"] == "latency")
    assert not latency["passed"], latency
    warnings = settled["warnings"]
    assert any("alongside production's next requests" in w for w in warnings), warnings
    assert any("+10 nice (--shadow-niceness)" in w and "--shadow-niceness 0" in w
               for w in warnings), warnings  # fmt: skip


def test_a_saturated_loop_sheds_copies_and_counts_them(tmp_path: Path, s3_url: str) -> None:
    # A limit of 0.1 µs: every timer of the loop is later than that, so the server holds
    # itself saturated and sheds every copy.
    args = [*FAST, "--s3-endpoint-url", s3_url, "--event-log", str(tmp_path / "events.jsonl"),
            "--shadow-shed-lag-ms", "0.0001"]  # fmt: skip
    with ServerProcess(tmp_path / "data", extra_args=args,
                       log_path=tmp_path / "server.log") as server:  # fmt: skip
        models = Models(server, s3_url)
        models.events_path = tmp_path / "events.jsonl"
        endpoint, _ = _setup(models)
        for i in range(5):
            _timed_invoke(models, endpoint, i)  # production answers as always
        assert models.shadow_count(endpoint, "shed") == 5
        assert models.shadow_count(endpoint, "sent") == 0
        shadow_legs = wait_until(lambda: [e for e in models.events(endpoint)
                                          if e["role"] == "shadow"] or None)  # fmt: skip
        assert {e["errorKind"] for e in shadow_legs} == {"dropped"}
