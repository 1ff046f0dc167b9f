"""``shadowserve report EXPERIMENT``: the comparison report, as tables or as JSON."""

from __future__ import annotations

import json
from typing import Any

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shadowserve.cli.streaming import follow

VERDICTS = {
    "promote": "[bold green]PROMOTE[/]",
    "dont_promote": "[bold red]DON'T PROMOTE[/]",
    "not_enough_data": "[bold yellow]NOT ENOUGH DATA YET[/]",
}
MAX_CONFUSION_LABELS = 8  # larger confusion matrices are in --json and on the dashboard


def report_params(region: str, options: dict[str, Any]) -> dict[str, str]:
    return {"region": region} | {k: str(v) for k, v in options.items() if v is not None}


def fetch_report(url: str, name: str, region: str, options: dict[str, Any]) -> dict[str, Any]:
    try:
        response = httpx.get(
            f"{url}/api/experiments/{name}/report", params=report_params(region, options),
            timeout=30,
        )  # fmt: skip
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach shadowserve at {url}: {exc}") from exc
    if response.status_code != 200:
        raise click.ClickException(response.json().get("message", response.text))
    report: dict[str, Any] = response.json()
    return report


def recompute_report(
    url: str, name: str, region: str, options: dict[str, Any], progress: bool
) -> dict[str, Any]:
    """The report with outputs recompared from capture; a progress bar while files are read."""
    address = f"{url}/api/experiments/{name}/report/from-capture"
    columns = (TextColumn("reading capture"), BarColumn(), DownloadColumn(),
               TextColumn("{task.fields[records]} records"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, disable=not progress, console=Console(stderr=True)) as bar:
        task = bar.add_task("capture", total=None, records=0)

        def advance(step: dict[str, Any]) -> None:
            bar.update(task, total=step["bytes_total"], completed=step["bytes_done"],
                       records=step["records"])  # fmt: skip

        return follow(address, report_params(region, options), None, advance)


def print_report(report: dict[str, Any], as_json: bool, console: Console | None = None) -> None:
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    console = console or Console()
    experiment, settings = report["experiment"], report["settings"]
    console.print(
        f"[bold]{experiment['name']}[/] on endpoint [bold]{experiment['endpoint']}[/] — "
        f"{experiment['status']}, {experiment['sampling_percentage']}% of traffic mirrored; "
        f"compared in [bold]{settings['mode']}[/] mode"
    )
    if report.get("source"):
        console.print(f"[dim]{report['source']['text']}[/]")
    for warning in report["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(_variants_table(report))
    console.print(_comparison_table(report["comparison"]))
    print_outputs(report["comparison"]["outputs"], console)
    print_verdict(report["verdict"], console)


def print_outputs(outputs: dict[str, Any], console: Console, who: str = "shadow") -> None:
    """The per-field comparison: fields, confusion matrices, noise, and the gist in words."""
    if outputs["fields"]:
        console.print(fields_table(outputs))
    for field in outputs["fields"]:
        if field["kind"] == "label" and 1 < len(field["labels"]) <= MAX_CONFUSION_LABELS:
            console.print(confusion_table(field))
    for noise in outputs["noise"]:
        console.print(f"noise: [bold]{noise['field']}[/] ({noise['kind']}) — {noise['found_by']}")
    for line in explain(outputs, who):
        console.print(f"[bold]In words:[/] {line}")


def explain(outputs: dict[str, Any], who: str = "shadow") -> list[str]:
    """The most seen label and score fields, in a sentence each; ``who`` is compared with
    production (the shadow, or a replay's candidate)."""
    lines = []
    kinds = {"label": _explain_label, "score": _explain_score}
    for kind, say in kinds.items():
        field = next((f for f in outputs["fields"] if f["kind"] == kind and not f["excluded"]
                      and f["pairs"]), None)  # fmt: skip
        if field is not None:
            lines.append(say(field, who))
    return lines


def _explain_label(field: dict[str, Any], who: str) -> str:
    agreement, kappa = field["label_agreement"], field["kappa"]
    text = (f"the {who} gives the same label {_named(field)} as production on "
            f"{agreement['rate']:.1%} of {agreement['of']} requests")  # fmt: skip
    if kappa is not None:
        text += f" (Cohen's kappa {kappa:.2f}: agreement beyond chance)"
    for direction in field["directional"] or []:
        if direction["share"]["rate"] is not None:
            said = direction["text"].replace("shadow says", f"{who} says", 1)
            text += f"; {said} on {direction['share']['rate']:.1%}"
    return text + "."


def _explain_score(field: dict[str, Any], who: str) -> str:
    ks, psi, shift, rho = field["ks"], field["psi"], field["mean_shift"], field["spearman"]
    text = f"the {who}'s scores {_named(field)}"
    if ks is not None:
        moved = "differ in distribution" if ks["p_value"] < 0.05 else "keep their distribution"
        text += f" {moved} (KS D {ks['statistic']:.2f}, p {ks['p_value']:.2g}"
        text += f"; PSI {psi:.2f}, {_psi_band(psi)})" if psi is not None else ")"
    if shift is not None:
        text += (f", mean shift {shift['mean']:+.3g} [{shift['ci'][0]:+.3g}, "
                 f"{shift['ci'][1]:+.3g}]")  # fmt: skip
    if rho is not None:
        text += f", and rank requests like production's at Spearman {rho:.2f}"
    return text + "."


def _psi_band(psi: float) -> str:
    # The usual reading of the population stability index.
    if psi < 0.1:
        return "stable"
    return "a moderate shift" if psi < 0.25 else "a major shift"


def _named(field: dict[str, Any]) -> str:
    pointer = field["pointer"] or "(answer)"
    return f"{pointer} ({field['derived']})" if field.get("derived") else pointer


def print_verdict(verdict: dict[str, Any], console: Console) -> None:
    console.print(f"Verdict: {VERDICTS[verdict['decision']]} ({verdict['mode']} mode)")
    for reason in verdict["reasons"]:
        console.print(f"  • {reason}")
    for note in verdict.get("notes", []):
        console.print(f"  [dim]note: {note}[/]")


def _variants_table(report: dict[str, Any]) -> Table:
    experiment, variants = report["experiment"], report["variants"]
    table = Table(title="Variants side by side")
    table.add_column("")
    roles = [role for role in ("production", "shadow") if role in variants]
    for role in roles:
        table.add_column(f"{role}: {experiment[role]['variant']} ({experiment[role]['model']})")
    rows: list[tuple[str, Any]] = [
        ("invocations", lambda v: str(v["invocations"])),
        ("error rate", lambda v: rate(v["error_rate"])),
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
    outputs = comparison["outputs"]
    table.add_row("pairs (unpaired)", f"{comparison['pairs']} ({comparison['unpaired']})")
    table.add_row("status agreement", rate(comparison["status_agreement"]))
    left_out = len(outputs["noise"]) + len(outputs["ignored"])
    table.add_row(
        "output agreement" + (" (noise, ignored left out)" if left_out else ""),
        rate(comparison["output_agreement"]),
    )
    if left_out:
        table.add_row("output agreement, every field", rate(outputs["raw_output_agreement"]))
    label = comparison["label_agreement"]
    if label.get("field") is not None:
        how = f", {label['derived']}" if label.get("derived") else ""
        table.add_row(f"label agreement ({label['field'] or 'answer'}{how})", rate(label))
    median, difference = comparison["latency_ratio_median"], comparison["latency_difference_ms"]
    if median is not None:
        table.add_row(
            "latency shadow / production, per request",
            f"median {median['median']:.2f}x [{median['ci'][0]:.2f}, {median['ci'][1]:.2f}]",
        )
    if difference is not None:
        table.add_row(
            "latency shadow - production, per request",
            f"{difference['mean']:+.2f} ms [{difference['ci'][0]:+.2f}, "
            f"{difference['ci'][1]:+.2f}], p = {difference['p_value']:.2g}",
        )
    return table


def fields_table(outputs: dict[str, Any]) -> Table:
    table = Table(title="Fields (JSON Pointer), by kind")
    for column in ("field", "kind", "pairs", "agree", "figures", ""):
        table.add_column(column)
    for field in outputs["fields"]:
        flag = "noise" if field["noise"] else "ignored" if field["ignored"] else ""
        missing = field["missing_in_shadow"]
        figures = _figures(field) + (f"; missing in shadow {missing}" if missing else "")
        table.add_row(
            field["pointer"] or "(answer)", _kind(field), str(field["pairs"]),
            rate(field["agreement"], brief=True), figures, flag,
        )  # fmt: skip
    return table


def _kind(field: dict[str, Any]) -> str:
    return f"label ({field['derived']})" if field.get("derived") else field["kind"]


def _figures(field: dict[str, Any]) -> str:
    kind = field["kind"]
    if kind == "score":
        return _score_figures(field)
    if kind == "label":
        kappa = field["kappa"]
        parts = [f"kappa {kappa:.2f}" if kappa is not None else "kappa —"]
        for direction in field["directional"] or []:
            share = direction["share"]["rate"]
            if share is not None:
                parts.append(f"{direction['text']}: {share:.1%}")
        return "; ".join(parts)
    if kind == "text":
        similarity = field["similarity"]["p50"]
        ratio = field["length_ratio"]
        return (
            f"normalized match {rate(field['normalized_match'], brief=True)}; similarity p50 "
            f"{similarity if similarity is not None else '—'}; length ratio "
            + (f"{ratio:.2f}" if ratio is not None else "—")
        )
    sizes = field["mean_bytes"]
    return f"mean size {sizes['production'] or 0:.0f} / {sizes['shadow'] or 0:.0f} bytes"


def _score_figures(field: dict[str, Any]) -> str:
    diff, ks, psi, shift = field["abs_diff"], field["ks"], field["psi"], field["mean_shift"]
    parts = [f"|diff| p50 {_g(diff['p50'])} p99 {_g(diff['p99'])} max {_g(diff['max'])}"]
    for name in ("pearson", "spearman"):
        if field[name] is not None:
            parts.append(f"{name} {field[name]:.3f}")
    if ks is not None:
        parts.append(f"KS D {ks['statistic']:.3f} (p {ks['p_value']:.2g})")
    if psi is not None:
        parts.append(f"PSI {psi:.3f}")
    if shift is not None:
        parts.append(
            f"mean shift {shift['mean']:+.3g} [{shift['ci'][0]:+.3g}, {shift['ci'][1]:+.3g}]"
        )
    return "; ".join(parts)


def confusion_table(field: dict[str, Any]) -> Table:
    title = f"Confusion {field['pointer'] or '(answer)'}: production label (rows) by shadow label"
    table = Table(title=title)
    table.add_column("production \\ shadow")
    for label in field["labels"]:
        table.add_column(label, justify="right")
    for label, row in zip(field["labels"], field["confusion"], strict=True):
        table.add_row(label, *(str(count) for count in row))
    return table


def _g(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def rate(proportion: dict[str, Any], brief: bool = False) -> str:
    if proportion["rate"] is None:
        return "—"
    if brief:
        return f"{proportion['rate']:.1%}"
    low, high = proportion["ci"]
    return f"{proportion['rate']:.1%} [{low:.1%}, {high:.1%}] of {proportion['of']}"


def _quantile(quantile: dict[str, Any]) -> str:
    if quantile["value"] is None:
        return "—"
    low, high = quantile["ci"]
    return f"{quantile['value']:.2f} [{low:.2f}, {high:.2f}]"
