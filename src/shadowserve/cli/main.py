"""``shadowserve serve | demo``."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import click
import uvicorn

from shadowserve.app import build_application
from shadowserve.cli.demo import run_demo
from shadowserve.config import Settings


@click.group()
@click.version_option(package_name="shadowserve")
def cli() -> None:
    """Self-hosted shadow testing for ML models, speaking SageMaker's APIs."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="SHADOWSERVE_HOST")
@click.option("--port", default=8080, show_default=True, type=int, envvar="SHADOWSERVE_PORT")
@click.option(
    "--data-dir",
    default=".shadowserve",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    envvar="SHADOWSERVE_DATA_DIR",
    help="Where the SQLite database (and later captures and models) live.",
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
    default="123456789012",
    show_default=True,
    envvar="SHADOWSERVE_ACCOUNT_ID",
    help="The account id put into ARNs.",
)
@click.option(
    "--reconcile-interval",
    default=1.0,
    show_default=True,
    type=float,
    envvar="SHADOWSERVE_RECONCILE_INTERVAL",
    help="Seconds between reconciler passes (status moves, schedules).",
)
@click.option("--log-level", default="info", show_default=True, envvar="SHADOWSERVE_LOG_LEVEL")
@click.option(
    "--s3-endpoint-url",
    default=None,
    envvar="AWS_ENDPOINT_URL_S3",
    help="S3-compatible endpoint for s3:// model data (AWS S3, MinIO, …). Default: the "
    "local object store under <data-dir>/objects.",
)
@click.option(
    "--model-timeout",
    default=60.0,
    show_default=True,
    type=float,
    envvar="SHADOWSERVE_MODEL_TIMEOUT",
    help="Seconds a model may take to answer.",
)
@click.option(
    "--shadow-timeout",
    default=60.0,
    show_default=True,
    type=float,
    envvar="SHADOWSERVE_SHADOW_TIMEOUT",
    help="Seconds a shadow copy may take.",
)
@click.option(
    "--shadow-concurrency",
    default=32,
    show_default=True,
    type=int,
    envvar="SHADOWSERVE_SHADOW_CONCURRENCY",
    help="Shadow calls in flight at once, per server.",
)
@click.option(
    "--shadow-queue-size",
    default=1000,
    show_default=True,
    type=int,
    envvar="SHADOWSERVE_SHADOW_QUEUE_SIZE",
    help="Shadow copies waiting for a free slot before new ones are dropped.",
)
@click.option(
    "--event-log",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="SHADOWSERVE_EVENT_LOG",
    help="Append one JSON line per invocation event (both legs) to this file.",
)
def serve(
    host: str,
    port: int,
    data_dir: Path,
    db_url: str | None,
    account_id: str,
    reconcile_interval: float,
    log_level: str,
    s3_endpoint_url: str | None,
    model_timeout: float,
    shadow_timeout: float,
    shadow_concurrency: int,
    shadow_queue_size: int,
    event_log: Path | None,
) -> None:
    """Run the server: SageMaker's API and SageMaker Runtime's InvokeEndpoint on one port."""
    settings = Settings(
        host=host,
        port=port,
        data_dir=data_dir,
        db_url=db_url,
        account_id=account_id,
        reconcile_interval=reconcile_interval,
        log_level=log_level,
        s3_endpoint_url=s3_endpoint_url,
        model_timeout=model_timeout,
        shadow_timeout=shadow_timeout,
        shadow_concurrency=shadow_concurrency,
        shadow_queue_size=shadow_queue_size,
        event_log=event_log,
    )
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per health check is noise
    application = build_application(settings)
    _exit_quietly_after_shutdown()
    # uvicorn handles SIGINT and SIGTERM: it stops accepting, finishes in-flight requests,
    # then runs our lifespan shutdown (reconciler stop, store close).
    uvicorn.run(application.http, host=host, port=port, log_level=log_level, access_log=False)


def _exit_quietly_after_shutdown() -> None:
    """After its graceful shutdown uvicorn re-raises the signal to the handler installed
    before it started; with a no-op one there, a clean shutdown exits with status 0."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)


@cli.command()
def demo() -> None:
    """A scripted walk through the API (the full demo comes with the demo issue)."""
    run_demo()


def main() -> None:
    cli()
