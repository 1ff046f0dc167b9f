"""``shadowserve serve | migrate | report | replay | demo``."""

from __future__ import annotations

import logging
import signal
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

import click
import uvicorn
from sqlalchemy.exc import OperationalError

from shadowserve.app import RuntimeUnavailable, build_application
from shadowserve.auth.access import is_loopback
from shadowserve.auth.credentials import CredentialsFileError, load_keys
from shadowserve.cli.demo import run_demo
from shadowserve.cli.replay import print_replay, run_replay
from shadowserve.cli.report import fetch_report, print_report, recompute_report
from shadowserve.cluster.membership import ClusterRefused
from shadowserve.config import Settings
from shadowserve.http.protocol import BoundedHttpToolsProtocol
from shadowserve.store.migrate import head_revision
from shadowserve.store.sql import upgrade_schema

DEFAULTS = Settings()  # every option's default is the setting's own: stated once, there


@click.group()
@click.version_option(package_name="shadowserve")
def cli() -> None:
    """Self-hosted shadow testing for ML models, speaking SageMaker's APIs."""


@cli.command()
@click.option("--host", default=DEFAULTS.host, show_default=True, envvar="SHADOWSERVE_HOST")
@click.option(
    "--port", default=DEFAULTS.port, show_default=True, type=int, envvar="SHADOWSERVE_PORT"
)
@click.option(
    "--data-dir",
    default=DEFAULTS.data_dir,
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    envvar="SHADOWSERVE_DATA_DIR",
    help="Where the SQLite database, unpacked models, endpoint logs and the local object "
    "store live.",
)
@click.option(
    "--db",
    "db_url",
    default=None,
    envvar="SHADOWSERVE_DB",
    help="A SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. Default: SQLite "
    "in the data dir.",
)
@click.option(
    "--account-id",
    default=DEFAULTS.account_id,
    show_default=True,
    envvar="SHADOWSERVE_ACCOUNT_ID",
    help="The account id put into ARNs.",
)
@click.option(
    "--reconcile-interval",
    default=DEFAULTS.reconcile_interval,
    show_default=True,
    type=float,
    envvar="SHADOWSERVE_RECONCILE_INTERVAL",
    help="Seconds between reconciler passes (status moves, schedules).",
)
@click.option("--log-level", default=DEFAULTS.log_level, show_default=True,
              envvar="SHADOWSERVE_LOG_LEVEL")  # fmt: skip
@click.option(
    "--s3-endpoint-url",
    default=None,
    envvar="AWS_ENDPOINT_URL_S3",
    help="S3-compatible endpoint for s3:// model data (AWS S3, MinIO, …). Default: the "
    "local object store under <data-dir>/objects.",
)
@click.option(
    "--max-model-bytes",
    default=DEFAULTS.max_model_bytes,
    show_default=True,
    type=int,
    envvar="SHADOWSERVE_MAX_MODEL_BYTES",
    help="The most a model.tar.gz may unpack to; larger archives are refused.",
)
@click.option(
    "--model-timeout",
    default=DEFAULTS.model_timeout,
    show_default=True,
    type=float,
    envvar="SHADOWSERVE_MODEL_TIMEOUT",
    help="Seconds a model may take to answer.",
)
@click.option(
    "--shadow-timeout",
    default=DEFAULTS.shadow_timeout,
    show_default=True,
    type=float,
    envvar="SHADOWSERVE_SHADOW_TIMEOUT",
    help="Seconds a shadow copy may take.",
)
@click.option(
    "--shadow-concurrency",
    default=DEFAULTS.shadow_concurrency,
    show_default=True,
    type=int,
    envvar="SHADOWSERVE_SHADOW_CONCURRENCY",
    help="Shadow calls in flight at once, per server.",
)
@click.option(
    "--shadow-queue-size",
    default=DEFAULTS.shadow_queue_size,
    show_default=True,
    type=int,
    envvar="SHADOWSERVE_SHADOW_QUEUE_SIZE",
    help="Shadow copies waiting for a free slot before new ones are dropped.",
)
@click.option(
    "--shadow-shed-lag-ms",
    default=DEFAULTS.shadow_shed_lag_ms,
    show_default=True,
    type=click.FloatRange(0),
    envvar="SHADOWSERVE_SHADOW_SHED_LAG_MS",
    help="Shed shadow copies (counted as shed) while the server's event loop runs this many "
    "ms late, i.e. is saturated; 0: never shed.",
)
@click.option(
    "--shadow-niceness",
    default=DEFAULTS.shadow_niceness,
    show_default=True,
    type=click.IntRange(0, 19),
    envvar="SHADOWSERVE_SHADOW_NICENESS",
    help="Added to shadow workers' nice value, so that on a shared machine they get the CPU "
    "only when production leaves it; 0: production's priority (a busy machine's latency "
    "comparison is then on equal terms).",
)
@click.option(
    "--event-batch-seconds",
    default=DEFAULTS.event_batch_seconds,
    show_default=True,
    type=click.FloatRange(0, 1),
    envvar="SHADOWSERVE_EVENT_BATCH_SECONDS",
    help="How often metrics, capture and the event log take invocation events off the "
    "request path, in one batch; 0: each event at once (more CPU per request).",
)
@click.option(
    "--event-log",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="SHADOWSERVE_EVENT_LOG",
    help="Append one JSON line per invocation event (both legs) to this file.",
)
@click.option(
    "--capture-flush-seconds",
    default=DEFAULTS.capture_flush_seconds,
    show_default=True,
    type=float,
    envvar="SHADOWSERVE_CAPTURE_FLUSH_SECONDS",
    help="A capture file is written at the latest this long after it was opened.",
)
@click.option(
    "--capture-max-buffered-records",
    default=DEFAULTS.capture_max_buffered_records,
    show_default=True,
    type=int,
    envvar="SHADOWSERVE_CAPTURE_MAX_BUFFERED_RECORDS",
    help="Capture records kept in memory while the sink is down; more are dropped.",
)
@click.option(
    "--output-tolerance",
    default=DEFAULTS.output_tolerance,
    show_default=True,
    type=float,
    envvar="SHADOWSERVE_OUTPUT_TOLERANCE",
    help="Largest difference at which two scores in model outputs still agree.",
)
@click.option(
    "--noise-probe-percentage",
    default=DEFAULTS.noise_probe_percentage,
    show_default=True,
    type=click.FloatRange(0, 100),
    envvar="SHADOWSERVE_NOISE_PROBE_PERCENTAGE",
    help="Share (%) of mirrored requests sent to the shadow twice to learn which output "
    "fields are noise (every experiment's first 20 copies are); 0 turns it off.",
)
@click.option(
    "--auth",
    type=click.Choice(["none", "sigv4"]),
    default=DEFAULTS.auth,
    show_default=True,
    envvar="SHADOWSERVE_AUTH",
    help="none: any credentials are accepted (local use). sigv4: every request must be "
    "signed by a key in --credentials-file.",
)
@click.option(
    "--credentials-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    envvar="SHADOWSERVE_CREDENTIALS_FILE",
    help="Keys for --auth sigv4, in AWS's shared-credentials format with aws_account_id.",
)
@click.option(
    "--gateway-id",
    default=None,
    envvar="SHADOWSERVE_GATEWAY_ID",
    help="This server's name among servers sharing one --db. Default: host name and port.",
)
@click.option(
    "--cloudcontrol-lease-seconds", type=click.FloatRange(min=1),
    default=DEFAULTS.cloudcontrol_lease_seconds, show_default=True,
    envvar="SHADOWSERVE_CLOUDCONTROL_LEASE_SECONDS",
    help="How long a server holds a Cloud Control request it works on; if it dies, "
    "another server sharing --db carries the request on after this long.",
)  # fmt: skip
@click.option(
    "--worker-host",
    default=DEFAULTS.worker_host,
    show_default=True,
    envvar="SHADOWSERVE_WORKER_HOST",
    help="Where model workers listen. With several servers on one --db the leader's workers "
    "serve every server: use an address the others reach.",
)
@click.option(
    "--worker-advertised-host", default=None, envvar="SHADOWSERVE_WORKER_ADVERTISED_HOST",
    help="The host other servers call workers at, when --worker-host is a wildcard (0.0.0.0).",
)  # fmt: skip
@click.option(
    "--runtime", type=click.Choice(["local", "ray"]), default=DEFAULTS.runtime,
    show_default=True, envvar="SHADOWSERVE_RUNTIME",
    help="Where model workers run: processes on this machine, or actors on a Ray cluster "
    "(--ray-address; needs shadowserve[ray] here and on the cluster's nodes).",
)  # fmt: skip
@click.option(
    "--ray-address", default=None, envvar="SHADOWSERVE_RAY_ADDRESS",
    help="The Ray cluster's address (host:port of its GCS, or ray://…) for --runtime ray.",
)  # fmt: skip
@click.option(
    "--ray-namespace", default=DEFAULTS.ray_namespace, show_default=True,
    envvar="SHADOWSERVE_RAY_NAMESPACE",
    help="The Ray namespace of this server's actors; servers sharing a --db share it.",
)  # fmt: skip
@click.option(
    "--ray-node-dir", default=DEFAULTS.ray_node_dir, show_default=True,
    envvar="SHADOWSERVE_RAY_NODE_DIR",
    help="Where each Ray node caches models and their environments.",
)  # fmt: skip
@click.option(
    "--ray-unclaimed-grace", type=float, default=DEFAULTS.ray_unclaimed_grace,
    show_default=True, envvar="SHADOWSERVE_RAY_UNCLAIMED_GRACE",
    help="Seconds an actor in --ray-namespace that no endpoint claims is kept (for its "
    "gateway to come back and adopt it) before the leader removes it.",
)  # fmt: skip
def serve(**options: Any) -> None:
    """Run the server: SageMaker's API and SageMaker Runtime's InvokeEndpoint on one port."""
    settings = Settings(**options)
    if settings.auth == "sigv4":
        if settings.credentials_file is None:
            raise click.UsageError("--auth sigv4 needs --credentials-file")
        try:
            load_keys(settings.credentials_file)
        except CredentialsFileError as exc:
            raise click.BadParameter(str(exc), param_hint="--credentials-file") from exc
    if settings.runtime == "ray" and not settings.ray_address:
        raise click.UsageError("--runtime ray needs --ray-address")
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if settings.auth == "none" and not is_loopback(settings.host):
        _warn_open(settings.host)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per health check is noise
    try:
        application = build_application(settings)
    except ModuleNotFoundError as exc:
        raise click.ClickException(_missing_driver(exc, settings.database_url())) from exc
    except (ClusterRefused, RuntimeUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc
    _exit_quietly_after_shutdown()
    # uvicorn handles SIGINT and SIGTERM: it stops accepting, finishes in-flight requests,
    # then runs our lifespan shutdown (reconciler stop, store close).
    uvicorn.run(application.http, host=settings.host, port=settings.port,
                log_level=settings.log_level, access_log=False,
                http=BoundedHttpToolsProtocol)  # fmt: skip


@cli.command()
@click.option(
    "--data-dir", default=DEFAULTS.data_dir, show_default=True, envvar="SHADOWSERVE_DATA_DIR",
    type=click.Path(path_type=Path, file_okay=False), help="The data dir whose SQLite to upgrade.",
)  # fmt: skip
@click.option("--db", "db_url", default=None, envvar="SHADOWSERVE_DB",
              help="A SQLAlchemy URL; default: SQLite in the data dir.")  # fmt: skip
def migrate(data_dir: Path, db_url: str | None) -> None:
    """Bring the database's schema up to this release (serve does it too, at start)."""
    settings = Settings(data_dir=data_dir, db_url=db_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        applied = upgrade_schema(settings.database_url())
    except ModuleNotFoundError as exc:
        raise click.ClickException(_missing_driver(exc, settings.database_url())) from exc
    except OperationalError as exc:
        raise click.ClickException(f"cannot reach the database: {exc.orig}") from exc
    if applied:
        click.echo(f"Applied migrations {', '.join(applied)}; schema at {applied[-1]}.")
    else:
        click.echo(f"Schema already at {head_revision()}; nothing to do.")


def _missing_driver(exc: ModuleNotFoundError, db_url: str) -> str:
    """What to install when the database's driver is not (PostgreSQL's is an extra)."""
    if exc.name and exc.name.startswith("psycopg"):
        return (f"--db {db_url.split('://', 1)[0]}://… needs PostgreSQL's driver, which is not "
                "installed: pip install 'shadowserve[postgres]'")  # fmt: skip
    return f"A module the server needs is not installed: {exc.name}"


def _warn_open(host: str) -> None:
    banner = "!" * 78
    click.secho(
        f"{banner}\nWARNING: listening on {host} with --auth none. Anyone who can reach this "
        "port can\ncreate, change and delete models, endpoints and experiments, and invoke "
        "them.\nUse --auth sigv4 --credentials-file PATH beyond loopback.\n" + banner,
        fg="red", bold=True, err=True,
    )  # fmt: skip
    logging.getLogger("shadowserve").warning(
        "listening on %s without authentication (--auth none)", host
    )


def _exit_quietly_after_shutdown() -> None:
    """After its graceful shutdown uvicorn re-raises the signal to the handler installed
    before it started; with a no-op one there, a clean shutdown exits with status 0."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)


def server_options(command: Any) -> Any:
    """--url and --region, for commands that talk to a running server."""
    command = click.option(
        "--region", envvar="AWS_DEFAULT_REGION", default="us-east-1", show_default=True
    )(command)
    return click.option(
        "--url",
        envvar=["SHADOWSERVE_URL", "AWS_ENDPOINT_URL"],
        default="http://127.0.0.1:8080",
        show_default=True,
        help="The shadowserve server.",
    )(command)


# Report options: (flag, type, help). Each becomes a query parameter of the report API
# named like the flag with underscores; unset ones leave the experiment's settings alone.
REPORT_OPTIONS: list[tuple[str, Any, str]] = [
    ("--compare-mode", click.Choice(["candidate", "equivalence"]),
     "candidate: a new model, outputs may differ within bounds; equivalence: they must agree "
     "[the experiment's shadowserve:compare-mode tag, else candidate]."),
    ("--ignore", str, "Space-separated JSON Pointers left out of agreement (e.g. '/request_id')."),
    ("--tolerance", str, "A number for every score, or 'POINTER=NUMBER …' (a report applies "
     "it to stored pairs with --from-capture)."),
    ("--label-threshold", str, "Score at which a single probability means label 1, or 'off' "
     "[0.5] (a report applies it to stored pairs with --from-capture)."),
    ("--min-pairs", int, "Paired requests needed for a verdict [100]."),
    ("--max-error-rate-increase", float, "How much higher the shadow's error rate may be [0.01]."),
    ("--max-latency-increase", float,
     "How much slower the shadow may be per request (median ratio), as a fraction [0.2]."),
    ("--min-output-agreement", float, "equivalence: share of requests whose outputs must "
     "agree [0.99]."),
    ("--min-label-agreement", float, "candidate: share of labels it must keep [0.8]."),
    ("--min-score-correlation", float, "candidate: Spearman correlation its scores need [0.5]."),
    ("--max-score-psi", float, "candidate: largest score distribution shift (PSI) [off]."),
    ("--confidence", float, "Confidence of intervals and tests [0.95]."),
]  # fmt: skip


def report_options(command: Any) -> Any:
    for flag, kind, text in reversed(REPORT_OPTIONS):
        command = click.option(flag, type=kind, default=None, help=text)(command)
    return command


@cli.command()
@click.argument("experiment")
@server_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--from-capture",
    is_flag=True,
    help="Recompute the output comparison from the experiment's captured records (S3 or the "
    "local store), so changed settings apply to traffic already seen.",
)
@report_options
def report(
    experiment: str, url: str, region: str, as_json: bool, from_capture: bool,
    **options: Any,
) -> None:  # fmt: skip
    """Compare an experiment's production and shadow variants, with a verdict."""
    url = url.rstrip("/")
    if from_capture:
        found = recompute_report(url, experiment, region, options, progress=not as_json)
    else:
        found = fetch_report(url, experiment, region, options)
    print_report(found, as_json)


@cli.command()
@server_options
@click.option("--experiment", help="Replay the production requests this experiment captured.")
@click.option("--endpoint", help="Replay the requests this endpoint's data capture holds.")
@click.option("--model", "candidate_model", help="The candidate: a model, deployed for the "
              "replay alone.")  # fmt: skip
@click.option("--variant", "candidate_variant", help="The candidate: a variant of a running "
              "endpoint (the source's, or --candidate-endpoint's).")  # fmt: skip
@click.option("--candidate-endpoint", help="The endpoint whose --variant is the candidate.")
@click.option("--start", type=click.DateTime(), help="Only requests captured from then (UTC).")
@click.option("--end", type=click.DateTime(), help="Only requests captured until then (UTC).")
@click.option("--sample", type=click.IntRange(min=1), help="A random sample of this many.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True),
              help="At most this many requests per second to the candidate.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@report_options
def replay(url: str, region: str, as_json: bool, **options: Any) -> None:
    """Vet a candidate before any live traffic: send captured production requests to it and
    compare its answers with production's captured ones. Production is never called."""
    names = ("experiment", "endpoint", "candidate_model", "candidate_variant",
             "candidate_endpoint", "start", "end", "sample", "rate")  # fmt: skip
    body = {name: options.pop(name) for name in names}
    for moment in ("start", "end"):
        if body[moment] is not None:
            body[moment] = body[moment].replace(tzinfo=UTC).isoformat()
    found = run_replay(url.rstrip("/"), region, body, options, progress=not as_json)
    print_replay(found, as_json)


@cli.command()
@click.option(
    "--data-dir",
    default=".shadowserve/demo",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Where the demo's server keeps its state (emptied first).",
)
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=int,
    help="The server's port (a free one if this one is taken).",
)
@click.option(
    "--keep-running/--exit",
    default=None,
    help="Leave the server running at the end (Ctrl-C stops it), so the dashboard address "
    "it printed works, or exit at once. [default: keep running in a terminal, exit otherwise]",
)
def demo(data_dir: Path, port: int, keep_running: bool | None) -> None:
    """A real shadow test from start to promotion, in under two minutes."""
    if keep_running is None:
        keep_running = sys.stdin.isatty() and sys.stdout.isatty()
    run_demo(data_dir, port, keep_running)


def main() -> None:
    cli()
