"""``shadowserve replay``: captured production requests to a candidate, with a progress bar,
and the comparison against production's captured answers."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shadowserve.cli.report import print_outputs, print_verdict, rate, report_params
from shadowserve.cli.streaming import follow


def run_replay(
    url: str, region: str, body: dict[str, Any], options: dict[str, Any], progress: bool
) -> dict[str, Any]:
    columns = (TextColumn("{task.fields[phase]:>18}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[records]} records read"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, disable=not progress, console=Console(stderr=True)) as bar:
        task = bar.add_task("replay", total=None, phase="reading capture", records=0)

        def advance(step: dict[str, Any]) -> None:
            sending = step["phase"] == "replaying" or step["sent"]
            bar.update(task, phase=step["phase"], records=step["records"],
                       completed=step["sent"] if sending else step["bytes_read"],
                       total=step["to_send"] if sending else step["bytes_total"])  # fmt: skip

        return follow(f"{url}/api/replays", report_params(region, options), body, advance)


def print_replay(report: dict[str, Any], as_json: bool, console: Console | None = None) -> None:
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    console = console or Console()
    replay, candidate = report["replay"], report["candidate"]
    source = replay["source"]
    origin = f"experiment {source['experiment']}" if source["experiment"] else "endpoint"
    console.print(
        f"Replayed [bold]{replay['sent']}[/] captured requests of {origin} "
        f"[bold]{source['endpoint']}[/] ({', '.join(source['variants'])}) to "
        f"[bold]{replay['candidate']}[/]; compared in [bold]{report['settings']['mode']}[/] mode"
    )
    for warning in report["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}")
    p50 = candidate["model_latency_ms"]["p50"]["value"]
    console.print(f"candidate errors {rate(candidate['error_rate'])}; latency p50 "
                  f"{p50 if p50 is not None else '—'} ms")  # fmt: skip
    outputs = report["comparison"]["outputs"]
    console.print(f"output agreement with production's captured answers: "
                  f"{rate(outputs['output_agreement'])}")  # fmt: skip
    print_outputs(outputs, console, who="candidate")
    print_verdict(report["verdict"], console)
