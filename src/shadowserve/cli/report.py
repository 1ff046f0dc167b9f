"""``shadowserve report EXPERIMENT``: the comparison report, as tables or as JSON."""

from __future__ import annotations

import json
from typing import Any

import click
import httpx
from rich.console import Console
from rich.table import Table

VERDICTS = {
    "promote": "[bold green]PROMOTE[/]",
    "dont_promote": "[bold red]DON'T PROMOTE[/]",
    "not_enough_data": "[bold yellow]NOT ENOUGH DATA YET[/]",
}


def fetch_report(url: str, name: str, region: str, thresholds: dict[str, Any]) -> dict[str, Any]:
    params = {"region": region} | {k: str(v) for k, v in thresholds.items() if v is not None}
    try:
        response = httpx.get(f"{url}/api/experiments/{name}/report", params=params, timeout=30)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach shadowserve at {url}: {exc}") from exc
    if response.status_code != 200:
        raise click.ClickException(response.json().get("message", response.text))
    report: dict[str, Any] = response.json()
    return report


def print_report(report: dict[str, Any], as_json: bool, console: Console | None = None) -> None:
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    console = console or Console()
    experiment = report["experiment"]
    console.print(
        f"[bold]{experiment['name']}[/] on endpoint [bold]{experiment['endpoint']}[/] — "
        f"{experiment['status']}, {experiment['sampling_percentage']}% of traffic mirrored"
    )
    console.print(_variants_table(report))
    console.print(_comparison_table(report["comparison"]))
    verdict = report["verdict"]
    console.print(f"Verdict: {VERDICTS[verdict['decision']]}")
    for reason in verdict["reasons"]:
        console.print(f"  • {reason}")


def _variants_table(report: dict[str, Any]) -> Table:
    experiment, variants = report["experiment"], report["variants"]
    table = Table(title="Variants side by side")
    table.add_column("")
    roles = [role for role in ("production", "shadow") if role in variants]
    for role in roles:
        table.add_column(f"{role}: {experiment[role]['variant']} ({experiment[role]['model']})")
    rows: list[tuple[str, Any]] = [
        ("invocations", lambda v: str(v["invocations"])),
        ("error rate", lambda v: _rate(v["error_rate"])),
        ("4xx / 5xx", lambda v: f"{v['invocation_4xx_errors']} / {v['invocation_5xx_errors']}"),
        ("latency p50 ms", lambda v: _quantile(v["model_latency_ms"]["p50"])),
        ("latency p90 ms", lambda v: _quantile(v["model_latency_ms"]["p90"])),
        ("latency p99 ms", lambda v: _quantile(v["model_latency_ms"]["p99"])),
        ("timeouts", lambda v: str(v["timeouts"])),
        ("dropped copies", lambda v: str(v["dropped"])),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(variants[role]) for role in roles))
    return table


def _comparison_table(comparison: dict[str, Any]) -> Table:
    table = Table(title="Paired comparison (requests both variants answered)")
    table.add_column("")
    table.add_column("value")
    difference, ratio = comparison["latency_difference_ms"], comparison["latency_ratio"]
    table.add_row("pairs (unpaired)", f"{comparison['pairs']} ({comparison['unpaired']})")
    table.add_row("status agreement", _rate(comparison["status_agreement"]))
    table.add_row("output agreement", _rate(comparison["output_agreement"]))
    table.add_row("label agreement", _rate(comparison["label_agreement"]))
    if comparison["score_mean_abs_diff"] is not None:
        table.add_row(
            "score |diff| mean / max",
            f"{comparison['score_mean_abs_diff']:.3g} / {comparison['score_max_abs_diff']:.3g}",
        )
    if difference is not None:
        table.add_row(
            "latency shadow - production",
            f"{difference['mean']:+.2f} ms [{difference['ci'][0]:+.2f}, "
            f"{difference['ci'][1]:+.2f}], p = {difference['p_value']:.2g}",
        )
    if ratio is not None:
        table.add_row(
            "latency shadow / production",
            f"{ratio['geometric_mean']:.2f}x [{ratio['ci'][0]:.2f}, {ratio['ci'][1]:.2f}]",
        )
    return table


def _rate(proportion: dict[str, Any]) -> str:
    if proportion["rate"] is None:
        return "—"
    low, high = proportion["ci"]
    return f"{proportion['rate']:.1%} [{low:.1%}, {high:.1%}] of {proportion['of']}"


def _quantile(quantile: dict[str, Any]) -> str:
    if quantile["value"] is None:
        return "—"
    low, high = quantile["ci"]
    return f"{quantile['value']:.2f} [{low:.2f}, {high:.2f}]"
