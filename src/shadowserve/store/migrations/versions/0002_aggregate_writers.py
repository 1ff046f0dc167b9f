"""Aggregates per writer: the gateway id joins the primary key, so gateways sharing one
database add to their own rows instead of overwriting each other's (read-merge-write lost
39-46 % of increments with two gateways). Rows written before keep writer ''."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

KEY = ["kind", "account", "region", "endpoint", "variant", "role", "experiment", "start"]


def upgrade() -> None:
    # A primary key cannot be widened in place on SQLite: copy into the new shape.
    op.create_table(
        "aggregates_by_writer",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("account", sa.String(12), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("endpoint", sa.String(64), primary_key=True),
        sa.Column("variant", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("experiment", sa.String(128), primary_key=True),
        sa.Column("start", sa.Integer, primary_key=True),
        sa.Column("writer", sa.String(128), primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
    )
    columns = ", ".join(f'"{name}"' for name in KEY)
    op.execute(
        f"INSERT INTO aggregates_by_writer ({columns}, writer, body) "
        f"SELECT {columns}, '', body FROM aggregates"
    )
    op.drop_table("aggregates")
    op.rename_table("aggregates_by_writer", "aggregates")
