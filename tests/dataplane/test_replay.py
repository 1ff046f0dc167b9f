"""`shadowserve replay`: production requests captured during an experiment are sent to a
candidate that never saw live traffic — a model deployed for the replay alone, or a variant
of a running endpoint — and compared with production's captured answers. Production is never
called."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import boto3
import httpx

from tests.dataplane.test_metrics_report import LABEL_MODEL, STEADY, _paced_traffic, _settled
from tests.dataplane.test_report_from_capture import _captured, shadowserve
from tests.dataplane_fixtures import Models
from tests.dataplane_support import metric, wait_until


def _replay(models: Models, *args: str) -> subprocess.CompletedProcess[str]:
    return shadowserve(models, "replay", *args)


def _production_invocations(models: Models, endpoint: str) -> float:
    return metric(models.server.url, "shadowserve_Invocations_total", endpoint=endpoint,
                  variant="AllTraffic", role="production")  # fmt: skip


def test_replay_vets_a_candidate_on_captured_traffic(models: Models, s3_url: str) -> None:
    prefix = f"rp-{uuid.uuid4().hex[:8]}"
    production = models.model(LABEL_MODEL, environment=STEADY)
    endpoint = models.endpoint(production)
    experiment = models.experiment(
        endpoint, production, models.model(LABEL_MODEL, environment=STEADY),
        DataStorageConfig={"Destination": f"s3://capture/{prefix}"},
    )  # fmt: skip
    _paced_traffic(models, endpoint, 120)
    _settled(models, experiment, 120)
    s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1")
    wait_until(lambda: _captured(s3, prefix) >= 240, timeout=60)
    before = _production_invocations(models, endpoint)

    # A new model, never deployed: one label in five flipped.
    candidate = models.model(LABEL_MODEL, environment={"FLIP_EVERY": "5"})
    found = _replay(models, "--experiment", experiment, "--model", candidate, "--json")
    assert found.returncode == 0, found.stderr
    report: dict[str, Any] = json.loads(found.stdout)
    assert report["replay"]["sent"] == 120 and report["replay"]["errors"] == 0
    assert report["comparison"]["pairs"] == 120
    label = next(f for f in report["comparison"]["outputs"]["fields"]
                 if f["field"] == "label:/0/label")  # fmt: skip
    assert label["label_agreement"]["rate"] == 0.8
    assert report["verdict"]["decision"] == "promote", report["verdict"]  # keeps 80 %
    strict = json.loads(_replay(models, "--experiment", experiment, "--model", candidate,
                                "--compare-mode", "equivalence", "--sample", "50",
                                "--json").stdout)  # fmt: skip
    assert strict["replay"]["sent"] == 50
    assert strict["verdict"]["decision"] == "not_enough_data"  # 50 < min pairs
    assert _production_invocations(models, endpoint) == before  # production never called

    # A variant of a running endpoint: the experiment's shadow.
    table = _replay(models, "--experiment", experiment, "--variant", "shadow",
                    "--rate", "200")  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert "Replayed 120 captured requests" in table.stdout
    assert "Verdict: PROMOTE" in table.stdout
    assert _production_invocations(models, endpoint) == before


def test_replay_refuses_what_it_cannot_do(models: Models) -> None:
    production = models.model(LABEL_MODEL)
    endpoint = models.endpoint(production)
    experiment = models.experiment(
        endpoint, production, models.model(LABEL_MODEL),
        DataStorageConfig={"Destination": f"s3://capture/rp-{uuid.uuid4().hex[:8]}"},
    )  # fmt: skip
    # Through the API (what the CLI sends), each refused before anything runs …
    cases = [
        ({"experiment": experiment}, "Name the candidate: either a model or a variant"),
        ({"experiment": experiment, "candidate_variant": "AllTraffic"},
         "a replay never calls production"),
        ({"experiment": experiment, "candidate_variant": "nope"},
         f"Endpoint {endpoint} has no variant nope"),
        ({"experiment": "missing", "candidate_model": production},
         "Inference experiment missing does not exist."),
        ({"endpoint": models.endpoint(production), "candidate_model": production},
         "has no DataCaptureConfig"),
        ({"experiment": experiment, "candidate_model": production, "sample": 0},
         "sample: Input should be greater than or equal to 1"),
        ({"experiment": experiment, "candidate_model": production, "speed": 3},
         "speed: Extra inputs are not permitted"),
    ]  # fmt: skip
    for body, message in cases:
        answer = httpx.post(f"{models.server.url}/api/replays", json=body, timeout=30)
        assert answer.status_code in (400, 404), (body, answer.text)
        assert message in answer.json()["message"], (body, answer.text)
    # … and the CLI says so in one line.
    found = _replay(models, "--experiment", experiment, "--variant", "AllTraffic")
    assert found.returncode == 1
    assert "a replay never calls production" in found.stderr
