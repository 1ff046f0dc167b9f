"""The schema of the release before migrations: resources, tags, aggregates.

A database that release made already has these tables; only missing ones are created, so it
upgrades in place."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "resources" not in present:
        op.create_table(
            "resources",
            sa.Column("kind", sa.String(32), primary_key=True),
            sa.Column("account", sa.String(12), primary_key=True),
            sa.Column("region", sa.String(32), primary_key=True),
            sa.Column("name_key", sa.String(128), primary_key=True),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("body", sa.Text, nullable=False),
        )
    if "tags" not in present:
        op.create_table(
            "tags",
            sa.Column("arn", sa.String(256), primary_key=True),
            sa.Column("tag_key", sa.String(128), primary_key=True),
            sa.Column("tag_value", sa.String(256), nullable=False),
            sa.Column("position", sa.Integer, nullable=False),
        )
    if "aggregates" not in present:
        op.create_table(
            "aggregates",
            *_aggregate_key_columns(),
            sa.Column("body", sa.Text, nullable=False),
        )


def _aggregate_key_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("account", sa.String(12), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("endpoint", sa.String(64), primary_key=True),
        sa.Column("variant", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("experiment", sa.String(128), primary_key=True),
        sa.Column("start", sa.Integer, primary_key=True),
    ]
