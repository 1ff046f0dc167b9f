"""Bring a database's schema to the newest migration, one process at a time.

Every `shadowserve serve` does this at start, and `shadowserve migrate` does it alone. On
PostgreSQL the upgrade runs in one transaction under a transaction-scoped advisory lock, so
gateways starting together on an empty database queue behind each other instead of racing
into CREATE TABLE; SQLite's BEGIN IMMEDIATE serialises them the same way. A database made by
a release before migrations (tables, no alembic_version) is upgraded in place: the baseline
migration creates only the tables it lacks."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

# pg_advisory_xact_lock's key for schema changes: any constant of our own.
SCHEMA_LOCK = 0x5348_4D41  # "SHMA"
_SCRIPTS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)
# Alembic says "Will assume transactional DDL" on every start; only what it applied matters.
logging.getLogger("alembic").setLevel(logging.WARNING)


def upgrade(engine: Engine) -> list[str]:
    """Apply every migration the database lacks; returns the revisions applied, oldest first."""
    with engine.connect() as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        before = current_revision(connection)
        config = _config(connection)
        command.upgrade(config, "head")
        applied = _between(config, before, current_revision(connection))
    if applied:
        log.info("schema migrated: %s", ", ".join(applied))
    return applied


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config(None)).get_current_head()
    assert head is not None
    return head


def _config(connection: Connection | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def _between(config: Config, before: str | None, after: str | None) -> list[str]:
    if after is None or before == after:
        return []
    scripts = ScriptDirectory.from_config(config)
    applied = [s.revision for s in scripts.iterate_revisions(after, before or "base")]
    return list(reversed(applied))
