"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against a server
with a running experiment: pages load cleanly, charts have points, numbers match the report."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.dataplane.test_metrics_report import LABEL_MODEL
from tests.dataplane_fixtures import Models
from tests.dataplane_support import wait_until

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHARTS = ["chart-invocations", "chart-latency", "chart-errors", "chart-agreement",
          "chart-drops"]  # fmt: skip
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def running_experiment(models: Models) -> tuple[Models, str]:
    production = models.model(LABEL_MODEL, environment={"NOISY": "1"})
    shadow = models.model(LABEL_MODEL, environment={"FLIP_EVERY": "10", "NOISY": "1"})
    endpoint = models.endpoint(production)
    experiment = models.experiment(endpoint, production, shadow)
    for value in range(60):
        models.invoke(endpoint, [value])

    def settled() -> dict[str, Any] | None:
        report = _report(models, experiment)
        comparison = report["comparison"]
        # Every copy is accounted for: paired, or unpaired (dropped by the small shadow bound).
        return report if comparison["pairs"] + comparison["unpaired"] >= 60 else None

    wait_until(settled, timeout=30)
    return models, experiment


def _report(models: Models, experiment: str) -> dict[str, Any]:
    response = httpx.get(f"{models.server.url}/api/experiments/{experiment}/report")
    report: dict[str, Any] = response.json()
    return report


def _open(browser: Browser, url: str) -> tuple[Page, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)  # fmt: skip
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return page, errors


def test_experiment_page(browser: Browser, running_experiment: tuple[Models, str]) -> None:
    models, experiment = running_experiment
    page, errors = _open(browser, f"{models.server.url}/ui/")
    row = page.locator(f'tr[data-experiment="{experiment}"]')
    row.wait_for()
    assert "Running" in row.inner_text()
    row.get_by_role("link", name=experiment).click()
    page.wait_for_selector("body[data-loaded=true]")
    report = _report(models, experiment)

    for chart in CHARTS:
        points = page.evaluate(
            """(id) => Chart.getChart(document.getElementById(id)).data.datasets
                 .map((d) => d.data.filter((v) => v.y !== null).length)
                 .reduce((a, b) => a + b, 0)""",
            chart,
        )
        assert points > 0, chart
    production, shadow = report["variants"]["production"], report["variants"]["shadow"]
    assert _text(page, "production-invocations") == str(production["invocations"])
    assert _text(page, "shadow-invocations") == str(shadow["invocations"])
    p50 = production["model_latency_ms"]["p50"]["value"]
    assert _text(page, "production-p50") == f"{p50:.2f} ms"
    agreement = report["comparison"]["output_agreement"]
    assert _text(page, "output-agreement").startswith(f"{agreement['rate'] * 100:.1f}%")
    assert page.locator("#verdict").get_attribute("data-decision") == report["verdict"]["decision"]
    assert "Running" in page.locator("#status").inner_text()
    assert page.locator("#card-shadow").inner_text().count(report["experiment"]["shadow"]["model"])
    _check_fields(page, report)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-experiment.png"), full_page=True)
    assert errors == []

    # After the experiment ends the page stays readable.
    models.sagemaker.stop_inference_experiment(
        Name=experiment, ModelVariantActions={"shadow": "Remove"}
    )
    wait_until(lambda: _report(models, experiment)["experiment"]["status"] == "Completed")
    page.reload()
    page.wait_for_selector("body[data-loaded=true]")
    assert "Completed" in page.locator("#status").inner_text()
    assert _text(page, "production-invocations") == str(production["invocations"])
    assert _text(page, "outcome") == "shadow removed"
    assert _text(page, "ended").startswith("ended ")
    assert errors == []


def _check_fields(page: Page, report: dict[str, Any]) -> None:
    """Every field in the table, noise marked; scores drawn as histograms and a heat map;
    labels as a confusion matrix."""
    outputs = report["comparison"]["outputs"]
    for field in outputs["fields"]:
        row = page.locator(f'#fields tr[data-field="{field["field"]}"]')
        assert row.count() == 1, field["field"]
        assert ("noise" in row.inner_text()) == field["noise"], field["field"]
    noisy = {item["field"] for item in outputs["noise"]}
    assert noisy == {"/0/request_id", "/0/generated_at"}
    score = page.locator('[data-score="score:/0/score"]')
    assert int(score.locator("canvas[id^=heatmap]").get_attribute("data-cells") or 0) > 0
    bars = page.evaluate(
        """() => Chart.getChart(document.querySelector('[data-score="score:/0/score"] '
                 + 'canvas[id^=histogram]')).data.datasets.map((d) => d.data.reduce(
                 (a, b) => a + b, 0))"""
    )
    pairs = next(f for f in outputs["fields"] if f["field"] == "score:/0/score")["pairs"]
    assert bars == [pairs, pairs]
    confusion = page.locator('[data-confusion="label:/0/label"]')
    label = next(f for f in outputs["fields"] if f["field"] == "label:/0/label")
    assert confusion.locator("td.off").first.inner_text() == str(label["confusion"][1][0])


def _text(page: Page, test_id: str) -> str:
    return page.locator(f'[data-testid="{test_id}"]').inner_text().strip()


def test_a_browser_at_the_servers_address_lands_on_the_dashboard(
    browser: Browser, models: Models
) -> None:
    page, errors = _open(browser, f"{models.server.url}/")
    page.wait_for_url("**/ui/")
    assert errors == []
    api = httpx.get(f"{models.server.url}/")  # not a browser: AWS's error shape, as before
    assert api.status_code == 405 and "UnknownOperationException" in api.text


def test_overview_lists_endpoints(browser: Browser, running_experiment: tuple[Models, str]) -> None:
    models, experiment = running_experiment
    endpoint = _report(models, experiment)["experiment"]["endpoint"]
    page, errors = _open(browser, f"{models.server.url}/ui/")
    row = page.locator(f'tr[data-endpoint="{endpoint}"]')
    row.wait_for()
    assert "InService" in row.inner_text()
    assert "shadow" in row.inner_text()
    assert errors == []
